//! The complaint's vocabulary: coded enums, stored by their code (`api::convert` maps them to
//! the proto enums).

use serde::{Deserialize, Serialize};

macro_rules! coded_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident, $code:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Returns the stable lowercase code used in storage and logs.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// Parses a stored code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Returns the proto-style upper-case name, e.g. `SOLUTION_PROPOSED`.
            pub fn label(self) -> String {
                self.code().to_uppercase()
            }
        }
    };
}

coded_enum!(
    /// Where a complaint is in its lifecycle.
    State {
        /// Recorded, first contact not made.
        Received, "received";
        /// First contact made.
        Acknowledged, "acknowledged";
        /// Root cause being investigated.
        Investigating, "investigating";
        /// Solution put to the customer.
        SolutionProposed, "solution_proposed";
        /// Solution accepted, being carried out.
        SolutionAccepted, "solution_accepted";
        /// Solution carried out; callback due.
        Resolved, "resolved";
        /// Callback reached a satisfied customer.
        CallbackDone, "callback_done";
        /// Finished (can be reopened).
        Closed, "closed";
        /// Reopened after resolution.
        Reopened, "reopened";
        /// Withdrawn by the customer. Final.
        Withdrawn, "withdrawn";
    }
);

coded_enum!(
    /// What a complaint is about.
    Nature {
        /// Faulty product.
        ProductQuality, "product_quality";
        /// Rude or unhelpful staff.
        ServiceAttitude, "service_attitude";
        /// Waiting or delay.
        WaitingDelay, "waiting_delay";
        /// Price or bill.
        PriceBilling, "price_billing";
        /// Installation or repair.
        InstallationRepair, "installation_repair";
        /// Anything else.
        Other, "other";
    }
);

coded_enum!(
    /// How serious a complaint is.
    Severity {
        /// Minor.
        Low, "low";
        /// Normal.
        Medium, "medium";
        /// Serious.
        High, "high";
        /// Safety, large loss or public exposure.
        Critical, "critical";
    }
);

coded_enum!(
    /// Work-queue priority, derived.
    Priority {
        /// Normal order.
        Normal, "normal";
        /// Before normal.
        High, "high";
        /// Before everything.
        Urgent, "urgent";
    }
);

coded_enum!(
    /// Where a complaint came in.
    Channel {
        /// Hotline.
        Hotline, "hotline";
        /// Store or service hall.
        Store, "store";
        /// Web, app, e-mail.
        Web, "web";
        /// At the customer's site.
        OnSite, "on_site";
        /// Letter.
        Letter, "letter";
    }
);

coded_enum!(
    /// A difficult-complainant trait (DOMAIN §3).
    Trait {
        /// Emotional.
        Emotional, "emotional";
        /// Abuses a sense of justice.
        JusticeSeeking, "justice_seeking";
        /// Stubborn.
        Stubborn, "stubborn";
        /// Self-absorbed.
        SelfAbsorbed, "self_absorbed";
        /// Prepared (knows consumer law, records the call).
        Prepared, "prepared";
        /// Social background.
        SocialBackground, "social_background";
        /// Media.
        Media, "media";
        /// Lawyer or legal action.
        Legal, "legal";
    }
);

coded_enum!(
    /// The role an actor acts in.
    Role {
        /// Front-line agent.
        Agent, "agent";
        /// Supervisor.
        Supervisor, "supervisor";
        /// Manager.
        Manager, "manager";
        /// A background task or another service.
        System, "system";
    }
);

coded_enum!(
    /// Customer value tier.
    Tier {
        /// Most valuable.
        A, "a";
        /// Regular.
        B, "b";
        /// Least valuable.
        C, "c";
    }
);

coded_enum!(
    /// Customer region.
    Region {
        /// City or town.
        Urban, "urban";
        /// Countryside.
        Rural, "rural";
    }
);

coded_enum!(
    /// What an SLA clock measures.
    ClockKind {
        /// Receipt to first contact.
        FirstContact, "first_contact";
        /// Receipt to resolution.
        Resolution, "resolution";
        /// Resolution to callback.
        Callback, "callback";
        /// Reopen to renewed resolution.
        CallbackFix, "callback_fix";
    }
);

impl ClockKind {
    /// The libs/sla promise the clock keeps.
    pub fn promise(self) -> csops_sla::Promise {
        match self {
            ClockKind::FirstContact => csops_sla::Promise::FirstContact,
            ClockKind::Resolution => csops_sla::Promise::Resolution,
            ClockKind::Callback => csops_sla::Promise::Callback,
            ClockKind::CallbackFix => csops_sla::Promise::CallbackFix,
        }
    }

    /// Only delays the company did not cause pause a clock, and only these clocks.
    pub fn pausable(self) -> bool {
        matches!(self, ClockKind::Resolution | ClockKind::CallbackFix)
    }
}

coded_enum!(
    /// Why a clock is paused.
    PauseReason {
        /// Waiting on the customer.
        WaitingOnCustomer, "waiting_on_customer";
        /// A delay the company did not cause.
        ExternalDelay, "external_delay";
    }
);

coded_enum!(
    /// The customer's answer to a solution.
    Decision {
        /// Not answered yet.
        Pending, "pending";
        /// Accepted.
        Accepted, "accepted";
        /// Rejected.
        Rejected, "rejected";
    }
);

coded_enum!(
    /// Result of a callback.
    CallbackOutcome {
        /// Satisfied.
        Satisfied, "satisfied";
        /// Unsatisfied: reopen.
        Unsatisfied, "unsatisfied";
        /// Not reached.
        Unreachable, "unreachable";
    }
);

coded_enum!(
    /// Why a complaint was reopened.
    ReopenReason {
        /// The callback found a problem.
        CallbackFinding, "callback_finding";
        /// The customer is still unhappy.
        CustomerUnhappy, "customer_unhappy";
        /// The problem recurred.
        Recurrence, "recurrence";
    }
);

coded_enum!(
    /// Where a promise is.
    PromiseState {
        /// Not kept, not due.
        Open, "open";
        /// Kept on time.
        Kept, "kept";
        /// Past due, not kept.
        Broken, "broken";
        /// Kept after being broken.
        KeptLate, "kept_late";
        /// Dropped (complaint withdrawn).
        Cancelled, "cancelled";
    }
);

coded_enum!(
    /// A step of the escalation chain.
    Level {
        /// Front-line agent.
        Agent, "agent";
        /// Supervisor.
        Supervisor, "supervisor";
        /// Manager.
        Manager, "manager";
    }
);

coded_enum!(
    /// Why a complaint was escalated.
    EscalationReason {
        /// An SLA clock breached.
        SlaBreached, "sla_breached";
        /// A promise was broken.
        PromiseBroken, "promise_broken";
        /// Media, legal or social-background complainant.
        SensitiveComplainant, "sensitive_complainant";
        /// Beyond the handler's authority.
        BeyondAuthority, "beyond_authority";
        /// The customer asked for a superior.
        CustomerRequest, "customer_request";
        /// Other.
        Other, "other";
    }
);

coded_enum!(
    /// A kind of compensation.
    CompensationKind {
        /// Gift.
        Gift, "gift";
        /// Privilege.
        Privilege, "privilege";
        /// Discount.
        Discount, "discount";
        /// Refund or credit.
        Refund, "refund";
        /// Other.
        Other, "other";
    }
);

coded_enum!(
    /// Where a compensation is.
    CompensationState {
        /// Waiting for approval; the customer must not be told.
        PendingApproval, "pending_approval";
        /// Approved.
        Approved, "approved";
        /// Rejected.
        Rejected, "rejected";
    }
);

coded_enum!(
    /// Kind of a timeline entry.
    EntryKind {
        /// Note.
        Note, "note";
        /// Call.
        Call, "call";
        /// State change.
        StateChange, "state_change";
        /// Assignment.
        Assignment, "assignment";
        /// Escalation.
        Escalation, "escalation";
        /// Promise.
        Promise, "promise";
        /// Compensation.
        Compensation, "compensation";
        /// Callback.
        Callback, "callback";
        /// SLA event.
        Sla, "sla";
        /// Field update or re-evaluation.
        Update, "update";
    }
);

coded_enum!(
    /// Who called whom.
    CallDirection {
        /// The customer called.
        Inbound, "inbound";
        /// The company called.
        Outbound, "outbound";
    }
);

coded_enum!(
    /// What happened to a clock or promise.
    SlaEventKind {
        /// Started.
        Started, "started";
        /// Paused.
        Paused, "paused";
        /// Resumed.
        Resumed, "resumed";
        /// Passed a warning threshold.
        AtRisk, "at_risk";
        /// Passed its deadline.
        Breached, "breached";
        /// Stopped in time.
        Met, "met";
        /// Stopped late.
        MetLate, "met_late";
        /// Cancelled.
        Cancelled, "cancelled";
        /// Target or deadline changed.
        DeadlineChanged, "deadline_changed";
        /// Escalated.
        Escalated, "escalated";
        /// A promise broke.
        PromiseBroken, "promise_broken";
    }
);

coded_enum!(
    /// SLA state of a complaint, kept in a column for List filters.
    SlaState {
        /// Every clock on track, met or cancelled.
        OnTrack, "on_track";
        /// A clock at risk, none breached.
        AtRisk, "at_risk";
        /// A clock breached.
        Breached, "breached";
    }
);

coded_enum!(
    /// What the feedback service is told happened, for its process indicators (its
    /// `ActivityKind`, by the same names).
    ActivityKind {
        /// An agent made the first contact with the complainant.
        ContactHandled, "contact_handled";
        /// A complaint was received.
        ComplaintReceived, "complaint_received";
        /// An SLA clock stopped before its deadline.
        ClockMet, "clock_met";
        /// An SLA clock stopped after its deadline (before the watcher saw the breach).
        ClockMetLate, "clock_met_late";
        /// The watcher saw an SLA clock breach.
        ClockBreached, "clock_breached";
    }
);
