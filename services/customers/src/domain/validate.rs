//! Input rules of the customer file. Every broken rule becomes a field violation naming the
//! field by its proto path (e.g. `contacts[1].value`), so a caller can fix all of them at once.

pub use csops_runtime::violations::{FieldViolation, Violations};

use super::{Contact, ContactKind, CustomerPatch, ImportantDate, NewCustomer, Profile};

pub use csops_runtime::violations::MAX_ID_LEN as MAX_ID;

/// The longest display name or person name, in characters.
pub const MAX_NAME: usize = 200;
/// The longest `notes`, in characters.
pub const MAX_NOTES: usize = 4000;
/// The longest entry of a list (a need, a preference, an address, a date's note).
pub const MAX_ITEM: usize = 500;
/// The most entries of each list of the file (contacts, dates, needs, preferences, consents).
pub const MAX_ITEMS: usize = 100;
/// The longest contact label.
pub const MAX_LABEL: usize = 50;

pub(super) fn new_customer(input: &NewCustomer) -> Violations {
    let mut v = Violations::default();
    display_name(&mut v, &input.display_name);
    owner(&mut v, &input.owner_agent_id);
    profile(&mut v, &input.profile);
    v
}

pub(super) fn patch(patch: &CustomerPatch) -> Violations {
    let mut v = Violations::default();
    if let Some(name) = &patch.display_name {
        display_name(&mut v, name);
    }
    if let Some(owner_id) = &patch.owner_agent_id {
        owner(&mut v, owner_id);
    }
    if let Some(contacts) = &patch.contacts {
        self::contacts(&mut v, contacts);
    }
    if let Some(dates) = &patch.important_dates {
        important_dates(&mut v, dates);
    }
    if let Some(items) = &patch.needs {
        list(&mut v, "needs", items);
    }
    if let Some(items) = &patch.preferences {
        list(&mut v, "preferences", items);
    }
    if let Some(notes) = &patch.notes {
        self::notes(&mut v, notes);
    }
    if let Some(consents) = &patch.consents {
        self::consents(&mut v, consents);
    }
    if let Some(Some(inputs)) = &patch.lifetime_value_inputs {
        v.extend(inputs.validate().prefixed("lifetime_value_inputs"));
    }
    v
}

fn display_name(v: &mut Violations, name: &str) {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        v.push("display_name", "must not be empty");
    } else if trimmed.chars().count() > MAX_NAME {
        v.push(
            "display_name",
            format!("must be at most {MAX_NAME} characters"),
        );
    } else if trimmed.chars().any(char::is_control) {
        v.push("display_name", "must not contain control characters");
    }
}

fn owner(v: &mut Violations, owner_agent_id: &str) {
    if owner_agent_id.len() > MAX_ID || owner_agent_id.chars().any(char::is_whitespace) {
        v.push(
            "owner_agent_id",
            format!("must be an id of at most {MAX_ID} characters without spaces"),
        );
    }
}

fn profile(v: &mut Violations, p: &Profile) {
    contacts(v, &p.contacts);
    important_dates(v, &p.important_dates);
    list(v, "needs", &p.needs);
    list(v, "preferences", &p.preferences);
    notes(v, &p.notes);
    consents(v, &p.consents);
    if let Some(inputs) = &p.lifetime_value_inputs {
        v.extend(inputs.validate().prefixed("lifetime_value_inputs"));
    }
}

fn notes(v: &mut Violations, notes: &str) {
    if notes.chars().count() > MAX_NOTES {
        v.push("notes", format!("must be at most {MAX_NOTES} characters"));
    }
}

fn list(v: &mut Violations, field: &str, items: &[String]) {
    if items.len() > MAX_ITEMS {
        v.push(field, format!("must hold at most {MAX_ITEMS} entries"));
    }
    for (i, item) in items.iter().enumerate() {
        if item.trim().is_empty() || item.chars().count() > MAX_ITEM {
            v.push(
                format!("{field}[{i}]"),
                format!("must be 1-{MAX_ITEM} characters"),
            );
        }
    }
}

fn contacts(v: &mut Violations, contacts: &[Contact]) {
    if contacts.len() > MAX_ITEMS {
        v.push("contacts", format!("must hold at most {MAX_ITEMS} entries"));
    }
    for (i, c) in contacts.iter().enumerate() {
        let field = format!("contacts[{i}].value");
        let value = c.value.trim();
        match c.kind {
            ContactKind::Phone => {
                let digit_count = value.chars().filter(char::is_ascii_digit).count();
                let allowed = value
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || " +-()".contains(ch));
                if !allowed || !(5..=20).contains(&digit_count) {
                    v.push(
                        field,
                        "must be a phone number: 5-20 digits, optionally with + - ( ) and spaces",
                    );
                }
            }
            ContactKind::Email => {
                let valid = value.len() <= 254
                    && value.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                    })
                    && !value.chars().any(char::is_whitespace);
                if !valid {
                    v.push(field, "must be an e-mail address like name@example.com");
                }
            }
            ContactKind::Address => {
                if value.is_empty() || value.chars().count() > MAX_ITEM {
                    v.push(
                        field,
                        format!("must be an address of 1-{MAX_ITEM} characters"),
                    );
                }
            }
        }
        if c.label.chars().count() > MAX_LABEL {
            v.push(
                format!("contacts[{i}].label"),
                format!("must be at most {MAX_LABEL} characters"),
            );
        }
    }
}

fn important_dates(v: &mut Violations, dates: &[ImportantDate]) {
    if dates.len() > MAX_ITEMS {
        v.push(
            "important_dates",
            format!("must hold at most {MAX_ITEMS} entries"),
        );
    }
    for (i, d) in dates.iter().enumerate() {
        if !(1..=12).contains(&d.month) {
            v.push(format!("important_dates[{i}].month"), "must be 1-12");
            continue;
        }
        let max_day = days_in_month(d.month, d.year);
        if !(1..=max_day).contains(&d.day) {
            v.push(
                format!("important_dates[{i}].day"),
                format!("must be 1-{max_day} for month {}", d.month),
            );
        }
        if d.year != 0 && !(1900..=2200).contains(&d.year) {
            v.push(
                format!("important_dates[{i}].year"),
                "must be 0 (unknown) or 1900-2200",
            );
        }
        if d.person_name.chars().count() > MAX_NAME {
            v.push(
                format!("important_dates[{i}].person_name"),
                format!("must be at most {MAX_NAME} characters"),
            );
        }
        if d.note.chars().count() > MAX_ITEM {
            v.push(
                format!("important_dates[{i}].note"),
                format!("must be at most {MAX_ITEM} characters"),
            );
        }
    }
}

/// Days in `month`; with an unknown year (0) February allows the 29th.
fn days_in_month(month: u32, year: i32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 => {
            let leap = year == 0 || (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));
            if leap {
                29
            } else {
                28
            }
        }
        _ => 31,
    }
}

fn consents(v: &mut Violations, consents: &[super::Consent]) {
    for (i, c) in consents.iter().enumerate() {
        if consents[..i]
            .iter()
            .any(|earlier| earlier.channel == c.channel)
        {
            v.push(format!("consents[{i}].channel"), "appears more than once");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, Consent, DateKind, Relation};

    fn date(month: u32, day: u32, year: i32) -> ImportantDate {
        ImportantDate {
            kind: DateKind::Birthday,
            relation: Relation::Child,
            person_name: String::new(),
            month,
            day,
            year,
            note: String::new(),
        }
    }

    #[test]
    fn dates_must_exist_in_their_month() {
        let mut v = Violations::default();
        important_dates(
            &mut v,
            &[
                date(2, 29, 0),
                date(2, 29, 2024),
                date(2, 29, 2023),
                date(13, 1, 0),
                date(4, 31, 0),
            ],
        );
        let fields: Vec<&str> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "important_dates[2].day",
                "important_dates[3].month",
                "important_dates[4].day"
            ]
        );
    }

    #[test]
    fn phones_and_emails_are_checked_by_kind() {
        let contact = |kind, value: &str| Contact {
            kind,
            value: value.into(),
            label: String::new(),
            primary: false,
        };
        let mut v = Violations::default();
        contacts(
            &mut v,
            &[
                contact(ContactKind::Phone, "+86 (10) 6552-9988"),
                contact(ContactKind::Phone, "call me"),
                contact(ContactKind::Email, "li@example.cn"),
                contact(ContactKind::Email, "li@localhost"),
            ],
        );
        let fields: Vec<&str> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["contacts[1].value", "contacts[3].value"]);
    }

    #[test]
    fn a_channel_may_be_given_only_once() {
        let c = |channel| Consent {
            channel,
            granted: true,
            update_time: None,
        };
        let mut v = Violations::default();
        consents(
            &mut v,
            &[c(Channel::Sms), c(Channel::Email), c(Channel::Sms)],
        );
        assert_eq!(v.0.len(), 1);
        assert_eq!(v.0[0].field, "consents[2].channel");
    }
}
