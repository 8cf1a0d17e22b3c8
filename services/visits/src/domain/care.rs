//! Care occasions (scheduled care, 定期服务): the customer's and family members' birthdays,
//! anniversaries, other dates in the file, and holidays. Each occasion becomes a care event a
//! configured number of days ahead, with a suggested way to give care that respects the
//! channel consents on the customer file (seed 001: cards, calls, SMS, messages, flowers,
//! gifts; VIP customers in person).

use chrono::{DateTime, NaiveDate, Utc};
use csops_runtime::time::serde_micros;
use csops_sla::visits::{annual_occurrence, care_holidays_between};
use csops_sla::VisitRules;
use serde::{Deserialize, Serialize};

use super::{coded, Channel, Gift, Method};

/// Most important dates a plan keeps.
pub const MAX_CARE_DATES: usize = 100;
/// Longest person name, in characters.
pub const MAX_PERSON_NAME: usize = 200;
/// Longest note, in characters.
pub const MAX_CARE_NOTE: usize = 500;

coded! {
    /// What a care event celebrates.
    pub enum Occasion {
        /// A holiday.
        Holiday = "holiday",
        /// The customer's birthday.
        Birthday = "birthday",
        /// A family member's birthday.
        FamilyBirthday = "family_birthday",
        /// An anniversary.
        Anniversary = "anniversary",
        /// Another date.
        Other = "other",
    }
}

coded! {
    /// Whose date it is.
    pub enum Relation {
        /// The customer.
        SelfRelation = "self",
        /// Spouse or partner.
        Spouse = "spouse",
        /// A child.
        Child = "child",
        /// A parent.
        Parent = "parent",
        /// Anyone else close.
        Other = "other",
    }
}

/// A date from the customer file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareDate {
    /// What it is.
    pub occasion: Occasion,
    /// Whose it is.
    pub relation: Option<Relation>,
    /// The person's name (personal data: never logged).
    pub person_name: String,
    /// Month 1-12.
    pub month: u32,
    /// Day 1-31.
    pub day: u32,
    /// Note.
    pub note: String,
}

coded! {
    /// Where a care event is.
    pub enum CareState {
        /// Coming up.
        Upcoming = "upcoming",
        /// Its visit was completed.
        Done = "done",
        /// Skipped on purpose.
        Skipped = "skipped",
        /// The occasion passed without care.
        Missed = "missed",
    }
}

/// An occasion to care for a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareEvent {
    /// `cev_…`.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// The plan.
    pub plan_id: String,
    /// The plan's owner when it was created.
    pub owner_agent_id: String,
    /// What.
    pub occasion: Occasion,
    /// Whose.
    pub relation: Option<Relation>,
    /// Holiday name or person's name.
    pub title: String,
    /// The day.
    pub occasion_date: NaiveDate,
    /// When care should start being arranged.
    #[serde(with = "serde_micros")]
    pub prepare_time: DateTime<Utc>,
    /// Where it is.
    pub state: CareState,
    /// Its visit; empty when no channel is consented.
    pub visit_id: String,
    /// Why skipped.
    pub skip_reason: String,
    /// How to give the care; `None` when the customer consented to no usable channel.
    pub suggested_method: Option<Method>,
    /// What to give, for a gift.
    pub suggested_gift: Option<Gift>,
    /// Makes the event unique per plan, occasion, person and date.
    pub key: String,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// An occasion falling in a window, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    /// What.
    pub occasion: Occasion,
    /// Whose.
    pub relation: Option<Relation>,
    /// Holiday name or person's name.
    pub title: String,
    /// The day.
    pub date: NaiveDate,
    /// Unique per plan.
    pub key: String,
}

/// The occasions of `dates` and the policy's holidays falling in [from, until].
pub fn occasions(
    plan_id: &str,
    dates: &[CareDate],
    rules: &VisitRules,
    from: NaiveDate,
    until: NaiveDate,
) -> Vec<Upcoming> {
    let mut out = Vec::new();
    for (i, d) in dates.iter().enumerate() {
        for year in chrono::Datelike::year(&from)..=chrono::Datelike::year(&until) {
            let Some(date) = annual_occurrence(d.month, d.day, year) else {
                continue;
            };
            if date < from || date > until {
                continue;
            }
            let title = if d.person_name.is_empty() {
                match d.occasion {
                    Occasion::Birthday => "birthday".to_owned(),
                    other => other.code().replace('_', " "),
                }
            } else {
                d.person_name.clone()
            };
            out.push(Upcoming {
                occasion: d.occasion,
                relation: d.relation,
                title,
                date,
                key: format!("{plan_id}/{}/{i}/{date}", d.occasion.code()),
            });
        }
    }
    for (name, date) in care_holidays_between(rules, from, until) {
        out.push(Upcoming {
            occasion: Occasion::Holiday,
            relation: None,
            key: format!("{plan_id}/holiday/{name}/{date}"),
            title: name,
            date,
        });
    }
    out.sort_by(|a, b| a.date.cmp(&b.date).then(a.key.cmp(&b.key)));
    out
}

/// The way to give care for an occasion, the first in the occasion's order of preference
/// whose channel the customer consented to: key accounts are visited in person with flowers
/// on their birthday; otherwise a card by post, then a messaging-app message, a call, an SMS
/// or an e-mail. `None` when no consented channel fits: care is not given then.
pub fn suggest(
    occasion: Occasion,
    key_account: bool,
    consents: &[Channel],
) -> (Option<Method>, Option<Gift>) {
    let consented = |m: Method| m.channel().is_some_and(|c| consents.contains(&c));
    let mut order: Vec<(Method, Option<Gift>)> = Vec::new();
    if key_account {
        let gift = match occasion {
            Occasion::Birthday | Occasion::FamilyBirthday => Some(Gift::Flowers),
            Occasion::Anniversary => Some(Gift::Cake),
            Occasion::Holiday | Occasion::Other => None,
        };
        order.push((
            if gift.is_some() {
                Method::Gift
            } else {
                Method::InPerson
            },
            gift,
        ));
    }
    match occasion {
        Occasion::Birthday | Occasion::Anniversary => order.extend([
            (Method::LetterCard, None),
            (Method::Phone, None),
            (Method::MessagingApp, None),
            (Method::Sms, None),
            (Method::Email, None),
        ]),
        Occasion::FamilyBirthday | Occasion::Holiday | Occasion::Other => order.extend([
            (Method::LetterCard, None),
            (Method::MessagingApp, None),
            (Method::Sms, None),
            (Method::Email, None),
            (Method::Phone, None),
        ]),
    }
    order
        .into_iter()
        .find(|(m, _)| consented(*m))
        .map_or((None, None), |(m, g)| (Some(m), g))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use csops_sla::Policy;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_daughters_birthday_on_29_february_is_kept_on_28_february_in_a_common_year() {
        let policy = Policy::default_presets();
        let dates = vec![CareDate {
            occasion: Occasion::FamilyBirthday,
            relation: Some(Relation::Child),
            person_name: "Xiaomei".into(),
            month: 2,
            day: 29,
            note: String::new(),
        }];
        let found = occasions(
            "vpl_1",
            &dates,
            policy.visits(),
            d(2027, 2, 20),
            d(2027, 3, 5),
        );
        let birthday: Vec<_> = found
            .iter()
            .filter(|o| o.occasion == Occasion::FamilyBirthday)
            .collect();
        assert_eq!(birthday.len(), 1);
        assert_eq!(birthday[0].date, d(2027, 2, 28));
        assert_eq!(birthday[0].title, "Xiaomei");
    }

    #[test]
    fn the_suggestion_only_uses_consented_channels() {
        use Channel::*;
        assert_eq!(
            suggest(Occasion::Birthday, false, &[Post, PhoneCall]),
            (Some(Method::LetterCard), None)
        );
        assert_eq!(
            suggest(Occasion::Birthday, false, &[Sms]),
            (Some(Method::Sms), None)
        );
        assert_eq!(
            suggest(Occasion::Birthday, true, &[InPerson, Post]),
            (Some(Method::Gift), Some(Gift::Flowers))
        );
        // A key account who did not consent to visits gets a card, not flowers at the door.
        assert_eq!(
            suggest(Occasion::Birthday, true, &[Post]),
            (Some(Method::LetterCard), None)
        );
        assert_eq!(suggest(Occasion::Holiday, false, &[]), (None, None));
    }
}
