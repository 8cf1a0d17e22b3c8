//! The rules of the visits service, pure: entities, state machines and planning. `now` and
//! `today` are passed in; nothing here does I/O.
//!
//! - [`plan`]: a customer's visit plan and how its visits are planned from the tier's cadence
//! - [`visit`]: one visit and its state machine
//! - [`care`]: care occasions (birthdays, family birthdays, anniversaries, holidays) and the
//!   suggested way to give care within the customer's consents
//! - [`booking`]: double booking and daily load
//! - [`field_job`]: on-site work with its SLA clocks and the customer's consent to extra work

pub mod booking;
pub mod care;
pub mod field_job;
pub mod plan;
pub mod visit;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
pub use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

/// Defines an enum stored by a stable code (its serde name and its SQL column value).
macro_rules! coded {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $code)] $variant),+
        }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stable code stored in columns and documents.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
            /// The value of a stored code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }
    };
}
pub(crate) use coded;

coded! {
    /// The role an actor acts in.
    pub enum Role {
        /// Agent or account manager.
        Agent = "agent",
        /// Field engineer.
        Engineer = "engineer",
        /// Supervisor.
        Supervisor = "supervisor",
        /// Manager.
        Manager = "manager",
        /// A background task or another service.
        System = "system",
    }
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Person or system id.
    pub id: String,
    /// The role they acted in.
    pub role: Role,
}

impl Actor {
    /// The service itself, for what its background work does.
    pub fn system() -> Self {
        Self {
            id: "visits".into(),
            role: Role::System,
        }
    }
}

coded! {
    /// The customer's value tier.
    pub enum Tier {
        /// Most valuable.
        A = "A",
        /// Regular.
        B = "B",
        /// Least valuable.
        C = "C",
    }
}

impl Tier {
    /// The SLA library's tier.
    pub fn sla(self) -> csops_sla::Tier {
        match self {
            Tier::A => csops_sla::Tier::A,
            Tier::B => csops_sla::Tier::B,
            Tier::C => csops_sla::Tier::C,
        }
    }
}

coded! {
    /// Where the customer is served.
    pub enum Region {
        /// City or town.
        Urban = "urban",
        /// Countryside.
        Rural = "rural",
    }
}

impl Region {
    /// The SLA library's region.
    pub fn sla(self) -> csops_sla::Region {
        match self {
            Region::Urban => csops_sla::Region::Urban,
            Region::Rural => csops_sla::Region::Rural,
        }
    }
}

coded! {
    /// A channel the customer consented to be contacted on.
    pub enum Channel {
        /// Phone calls.
        PhoneCall = "phone_call",
        /// Text messages.
        Sms = "sms",
        /// E-mail.
        Email = "email",
        /// Letters and cards by post.
        Post = "post",
        /// Visits in person.
        InPerson = "in_person",
        /// Messaging apps.
        MessagingApp = "messaging_app",
    }
}

coded! {
    /// How a customer is contacted.
    pub enum Method {
        /// In person: the only method that counts as an in-person visit.
        InPerson = "in_person",
        /// A letter or card by post.
        LetterCard = "letter_card",
        /// A phone call.
        Phone = "phone",
        /// A fax.
        Fax = "fax",
        /// An e-mail.
        Email = "email",
        /// A text message.
        Sms = "sms",
        /// A gift delivered.
        Gift = "gift",
        /// A value-added event.
        Event = "event",
        /// A message in a messaging app.
        MessagingApp = "messaging_app",
    }
}

impl Method {
    /// The channel whose consent the method needs; `None` for an event the customer chooses
    /// to attend.
    pub fn channel(self) -> Option<Channel> {
        match self {
            Method::InPerson | Method::Gift => Some(Channel::InPerson),
            Method::LetterCard => Some(Channel::Post),
            Method::Phone | Method::Fax => Some(Channel::PhoneCall),
            Method::Email => Some(Channel::Email),
            Method::Sms => Some(Channel::Sms),
            Method::MessagingApp => Some(Channel::MessagingApp),
            Method::Event => None,
        }
    }
}

coded! {
    /// What kind of gift is given.
    pub enum Gift {
        /// Flowers.
        Flowers = "flowers",
        /// A cake.
        Cake = "cake",
        /// Books.
        Books = "books",
        /// Coupons or vouchers.
        Coupons = "coupons",
        /// Anything else.
        Other = "other",
    }
}

/// Makes a new resource id with `prefix`, e.g. `vst_0192…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// The deployment's time zone (the visits calendar's), in which dates are days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub Option<Tz>);

impl Zone {
    /// The local date of `t`.
    pub fn date(self, t: DateTime<Utc>) -> NaiveDate {
        match self.0 {
            Some(tz) => t.with_timezone(&tz).date_naive(),
            None => t.date_naive(),
        }
    }

    /// The first instant of `date`.
    pub fn start_of(self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        match self.0 {
            Some(tz) => tz
                .from_local_datetime(&midnight)
                .earliest()
                .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc)),
            None => midnight.and_utc(),
        }
    }

    /// The end of `date` (the first instant of the next day): when something due "on" that
    /// day becomes late.
    pub fn end_of(self, date: NaiveDate) -> DateTime<Utc> {
        self.start_of(date.succ_opt().unwrap_or(date))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_round_trip_and_a_day_ends_at_local_midnight() {
        for m in Method::ALL {
            assert_eq!(Method::from_code(m.code()), Some(*m));
        }
        let zone = Zone(Some(chrono_tz::Asia::Shanghai));
        let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        assert_eq!(
            zone.end_of(day),
            Utc.with_ymd_and_hms(2026, 10, 1, 16, 0, 0).unwrap()
        );
        assert_eq!(zone.date(zone.end_of(day)), day.succ_opt().unwrap());
    }
}

/// An event for the feedback service, written to the outbox with the change that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// A finished activity (a completed visit or field job): feedback counts contact
    /// frequency and silence from these.
    Activity {
        /// "visit_completed" or "field_job_completed".
        kind: String,
        /// The customer.
        customer_id: String,
        /// Who did it.
        agent_id: String,
        /// "visit" or "field_job".
        subject_kind: String,
        /// The visit or job id.
        subject_id: String,
        /// When it happened.
        #[serde(with = "csops_runtime::time::serde_micros")]
        occur_time: DateTime<Utc>,
    },
    /// A completed field job asks for the 1-2 day callback.
    ScheduleCallback {
        /// The customer.
        customer_id: String,
        /// The job.
        field_job_id: String,
        /// When the work was finished.
        #[serde(with = "csops_runtime::time::serde_micros")]
        service_end_time: DateTime<Utc>,
        /// The engineer.
        served_by_agent_id: String,
    },
}

impl Outgoing {
    /// The resource the event is about (events of one resource are delivered in order).
    pub fn aggregate_id(&self) -> &str {
        match self {
            Outgoing::Activity { subject_id, .. } => subject_id,
            Outgoing::ScheduleCallback { field_job_id, .. } => field_job_id,
        }
    }

    /// The event's kind, for the outbox.
    pub fn kind(&self) -> &'static str {
        match self {
            Outgoing::Activity { .. } => "activity",
            Outgoing::ScheduleCallback { .. } => "schedule_callback",
        }
    }
}
