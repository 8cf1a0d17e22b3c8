//! The documented maximum of every string, list and update mask of the customers API (see the
//! proto comments), checked before a request does any work: before its retry key is hashed,
//! its mask read or the database asked. Each request is destructured field by field, so a new
//! field does not build until its limit is chosen here.

use csops_proto::customers::v1 as pb;
use csops_runtime::violations::MAX_PAGE_TOKEN_LEN;
use csops_runtime::Error;

use super::convert::UPDATABLE;
use crate::domain::{
    Violations, MAX_EVIDENCE, MAX_ITEM, MAX_ITEMS, MAX_LABEL, MAX_NAME, MAX_NOTES, MAX_REASON,
};

/// The longest ListCustomers `query`, in characters.
pub(super) const MAX_QUERY: usize = 100;
/// An ISO 4217 currency code has three letters.
const MAX_CURRENCY_CODE: usize = 3;

/// A request whose sizes are bounded.
pub(super) trait Bounded {
    /// Records a violation for every field over its documented maximum.
    fn check_sizes(&self, v: &mut Violations);
}

/// Answers INVALID_ARGUMENT naming every field of `request` over its maximum.
pub(super) fn check(request: &impl Bounded) -> Result<(), Error> {
    let mut v = Violations::default();
    request.check_sizes(&mut v);
    v.into_result(()).map_err(Error::InvalidArgument)
}

/// Checks a list of texts: at most `max_items` entries of at most `max_len` characters.
fn texts(v: &mut Violations, field: &str, items: &[String], max_items: usize, max_len: usize) {
    if v.max_items(field, items.len(), max_items) {
        for (i, item) in items.iter().enumerate() {
            v.max_len(&format!("{field}[{i}]"), item, max_len);
        }
    }
}

/// The input fields of a customer; output-only fields are ignored by every RPC.
fn customer(v: &mut Violations, c: &pb::Customer) {
    let pb::Customer {
        id,
        display_name,
        tier: _,
        key_account: _,
        region: _,
        owner_agent_id,
        contacts,
        important_dates,
        needs,
        preferences,
        notes,
        consents,
        lifetime_value_inputs,
        lifetime_value_minor: _,
        tier_history: _,
        state: _,
        create_time: _,
        update_time: _,
        delete_time: _,
        etag,
        churn_risk: _,
    } = c;
    v.max_id("customer.id", id);
    v.max_len("customer.display_name", display_name, MAX_NAME);
    v.max_id("customer.owner_agent_id", owner_agent_id);
    if v.max_items("customer.contacts", contacts.len(), MAX_ITEMS) {
        for (i, contact) in contacts.iter().enumerate() {
            let pb::Contact {
                kind: _,
                value,
                label,
                primary: _,
            } = contact;
            v.max_len(&format!("customer.contacts[{i}].value"), value, MAX_ITEM);
            v.max_len(&format!("customer.contacts[{i}].label"), label, MAX_LABEL);
        }
    }
    if v.max_items("customer.important_dates", important_dates.len(), MAX_ITEMS) {
        for (i, date) in important_dates.iter().enumerate() {
            let pb::ImportantDate {
                kind: _,
                relation: _,
                person_name,
                month: _,
                day: _,
                year: _,
                note,
            } = date;
            let field = format!("customer.important_dates[{i}]");
            v.max_len(&format!("{field}.person_name"), person_name, MAX_NAME);
            v.max_len(&format!("{field}.note"), note, MAX_ITEM);
        }
    }
    texts(v, "customer.needs", needs, MAX_ITEMS, MAX_ITEM);
    texts(v, "customer.preferences", preferences, MAX_ITEMS, MAX_ITEM);
    v.max_len("customer.notes", notes, MAX_NOTES);
    v.max_items("customer.consents", consents.len(), MAX_ITEMS);
    if let Some(inputs) = lifetime_value_inputs {
        v.max_len(
            "customer.lifetime_value_inputs.currency_code",
            &inputs.currency_code,
            MAX_CURRENCY_CODE,
        );
    }
    v.max_id("customer.etag", etag);
}

impl Bounded for pb::CreateCustomerRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            customer: c,
            request_id,
            actor_id,
        } = self;
        if let Some(c) = c {
            customer(v, c);
        }
        v.max_id("request_id", request_id);
        v.max_id("actor_id", actor_id);
    }
}

impl Bounded for pb::GetCustomerRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self { customer_id } = self;
        v.max_id("customer_id", customer_id);
    }
}

impl Bounded for pb::ListCustomersRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            page_size: _,
            page_token,
            tier: _,
            region: _,
            key_account: _,
            owner_agent_id,
            query,
            archive_filter: _,
            min_churn_risk: _,
        } = self;
        v.max_len("page_token", page_token, MAX_PAGE_TOKEN_LEN);
        v.max_id("owner_agent_id", owner_agent_id);
        v.max_len("query", query.trim(), MAX_QUERY);
    }
}

impl Bounded for pb::UpdateCustomerRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            customer: c,
            update_mask,
        } = self;
        if let Some(c) = c {
            customer(v, c);
        }
        if let Some(mask) = update_mask {
            v.max_paths("update_mask", &mask.paths, UPDATABLE.len());
        }
    }
}

impl Bounded for pb::ChangeCustomerTierRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            customer_id,
            tier: _,
            reason,
            changed_by,
            etag,
        } = self;
        v.max_id("customer_id", customer_id);
        v.max_len("reason", reason, MAX_REASON);
        v.max_id("changed_by", changed_by);
        v.max_id("etag", etag);
    }
}

impl Bounded for pb::DeleteCustomerRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self { customer_id, etag } = self;
        v.max_id("customer_id", customer_id);
        v.max_id("etag", etag);
    }
}

impl Bounded for pb::UndeleteCustomerRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self { customer_id, etag } = self;
        v.max_id("customer_id", customer_id);
        v.max_id("etag", etag);
    }
}

impl Bounded for pb::RecordChurnSignalRequest {
    fn check_sizes(&self, v: &mut Violations) {
        let Self {
            customer_id,
            signal,
        } = self;
        v.max_id("customer_id", customer_id);
        if let Some(signal) = signal {
            let pb::ChurnSignal {
                signal_id,
                kind: _,
                level: _,
                evidence,
                source,
                observe_time: _,
            } = signal;
            v.max_id("signal.signal_id", signal_id);
            v.max_len("signal.evidence", evidence, MAX_EVIDENCE);
            v.max_id("signal.source", source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(request: &impl Bounded) -> Vec<String> {
        let mut v = Violations::default();
        request.check_sizes(&mut v);
        v.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn every_oversize_field_is_named_and_lists_are_not_walked() {
        let long = "x".repeat(MAX_NOTES + 1);
        let request = pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                display_name: long.clone(),
                needs: vec![String::new(); 100_000],
                preferences: vec![long.clone()],
                ..Default::default()
            }),
            request_id: long.clone(),
            actor_id: long,
        };
        assert_eq!(
            fields(&request),
            [
                "customer.display_name",
                "customer.needs",
                "customer.preferences[0]",
                "request_id",
                "actor_id"
            ]
        );
    }

    #[test]
    fn a_listing_bounds_its_page_token_and_query() {
        let request = pb::ListCustomersRequest {
            page_token: "t".repeat(MAX_PAGE_TOKEN_LEN + 1),
            query: "q".repeat(MAX_QUERY + 1),
            ..Default::default()
        };
        assert_eq!(fields(&request), ["page_token", "query"]);
    }
}
