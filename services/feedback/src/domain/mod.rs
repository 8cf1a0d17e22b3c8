//! The feedback rules, pure: `now` is passed in, no I/O.
//!
//! `callback` (回访 and its findings), `scores` (survey answers and their tally: CSAT, NPS,
//! CES, SERVQUAL gaps), `survey` (versioned templates and the surveys answered on them),
//! `grades` (the grade, its quotas, the weighted scorecard, the four
//! service types), `staff` (staff of the month), `churn` (silence and the other churn-risk
//! signals, lost customers). The vocabulary they share is here.

use serde::{Deserialize, Serialize};

pub mod callback;
pub mod churn;
pub mod grades;
pub mod indicators;
pub mod scores;
pub mod staff;
pub mod survey;

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
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}
pub(crate) use coded;

coded! {
    /// The role an actor acts in.
    pub enum Role {
        /// Front-line agent.
        Agent = "agent",
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
    /// Person or system id, e.g. "agent-7" or "complaints".
    pub id: String,
    /// The role they acted in.
    pub role: Role,
}

coded! {
    /// The kind of thing feedback is about.
    pub enum SubjectKind {
        /// A complaint in the complaints service: the callback's outcome goes back to it.
        Complaint = "complaint",
        /// A field job in the visits service.
        FieldJob = "field_job",
        /// A visit in the visits service.
        Visit = "visit",
        /// The service in general (surveys only: a callback always follows up something).
        General = "general",
    }
}

/// What a callback follows up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The kind of thing.
    pub kind: SubjectKind,
    /// Its id in the owning service.
    pub id: String,
}
