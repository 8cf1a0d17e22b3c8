//! The proto number of every domain enum, both ways: one exhaustive mapping per enum, so a value
//! added to the contract or to the domain fails to compile until it is mapped here.

use csops_proto::complaints::v1 as pb;

/// The proto number of a domain enum and back. Both directions are exhaustive `match`es, so a
/// value added to the contract or to the domain fails to compile until it is mapped here.
pub(super) trait ProtoEnum: Sized {
    /// The proto enum number.
    fn number(self) -> i32;
    /// The domain value of a proto number; `None` for UNSPECIFIED and unknown numbers.
    fn from_number(number: i32) -> Option<Self>;
}

macro_rules! proto_enum {
    ($domain:path => $proto:ident :: $name:ident { $($variant:ident),+ $(,)? }) => {
        impl ProtoEnum for $domain {
            fn number(self) -> i32 {
                type D = $domain;
                let value = match self { $(D::$variant => $proto::$name::$variant,)+ };
                value as i32
            }

            fn from_number(number: i32) -> Option<Self> {
                type D = $domain;
                match $proto::$name::try_from(number).ok()? {
                    $proto::$name::Unspecified => None,
                    $($proto::$name::$variant => Some(D::$variant),)+
                }
            }
        }
    };
}

proto_enum!(crate::domain::State => pb::ComplaintState {
    Received, Acknowledged, Investigating, SolutionProposed, SolutionAccepted, Resolved,
    CallbackDone, Closed, Reopened, Withdrawn,
});
proto_enum!(crate::domain::Nature => pb::ComplaintNature {
    ProductQuality, ServiceAttitude, WaitingDelay, PriceBilling, InstallationRepair, Other,
});
proto_enum!(crate::domain::Severity => pb::Severity { Low, Medium, High, Critical });
proto_enum!(crate::domain::Priority => pb::Priority { Normal, High, Urgent });
proto_enum!(crate::domain::Channel => pb::Channel { Hotline, Store, Web, OnSite, Letter });
proto_enum!(crate::domain::Trait => pb::ComplainantTrait {
    Emotional, JusticeSeeking, Stubborn, SelfAbsorbed, Prepared, SocialBackground, Media, Legal,
});
proto_enum!(crate::domain::Role => pb::ActorRole { Agent, Supervisor, Manager, System });
proto_enum!(crate::domain::Tier => pb::CustomerTier { A, B, C });
proto_enum!(crate::domain::Region => pb::Region { Urban, Rural });
proto_enum!(crate::domain::ClockKind => pb::SlaClockKind {
    FirstContact, Resolution, Callback, CallbackFix,
});
proto_enum!(crate::domain::PauseReason => pb::PauseReason { WaitingOnCustomer, ExternalDelay });
proto_enum!(crate::domain::Decision => pb::SolutionDecision { Pending, Accepted, Rejected });
proto_enum!(crate::domain::CallbackOutcome => pb::CallbackOutcome {
    Satisfied, Unsatisfied, Unreachable,
});
proto_enum!(crate::domain::ReopenReason => pb::ReopenReason {
    CallbackFinding, CustomerUnhappy, Recurrence,
});
proto_enum!(crate::domain::PromiseState => pb::PromiseState {
    Open, Kept, Broken, KeptLate, Cancelled,
});
proto_enum!(crate::domain::Level => pb::EscalationLevel { Agent, Supervisor, Manager });
proto_enum!(crate::domain::EscalationReason => pb::EscalationReason {
    SlaBreached, PromiseBroken, SensitiveComplainant, BeyondAuthority, CustomerRequest, Other,
});
proto_enum!(crate::domain::CompensationKind => pb::CompensationKind {
    Gift, Privilege, Discount, Refund, Other,
});
proto_enum!(crate::domain::CompensationState => pb::CompensationState {
    PendingApproval, Approved, Rejected,
});
proto_enum!(crate::domain::EntryKind => pb::TimelineEntryKind {
    Note, Call, StateChange, Assignment, Escalation, Promise, Compensation, Callback, Sla,
    Update,
});
proto_enum!(crate::domain::CallDirection => pb::CallDirection { Inbound, Outbound });
proto_enum!(crate::domain::SlaEventKind => pb::SlaEventKind {
    Started, Paused, Resumed, AtRisk, Breached, Met, MetLate, Cancelled, DeadlineChanged,
    Escalated, PromiseBroken,
});
proto_enum!(crate::domain::reply::Category => pb::ViolationCategory {
    HidingBehindRules, Criticising, VagueDelay, Arguing, Denying, ShiftingBlame,
    OverApologising, WrittenToSensitive,
});
