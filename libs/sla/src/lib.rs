//! Pure SLA rules: business calendars, clocks, policies, explanations and compliance statistics.
#![forbid(unsafe_code)]

pub mod calendar;
pub mod case;
pub mod clock;
pub mod compliance;
pub mod duration;
pub mod explain;
pub mod policy;

pub use calendar::{
    Calendar, CalendarBuilder, CalendarError, CalendarSummary, TimeRange, WeeklyHours,
};
pub use case::{Case, Promise, Region, Severity, Tier};
pub use clock::{
    Adjustment, Clock, ClockError, ClockEvent, ClockSpec, Ending, Milestone, Outcome, Pause,
    PauseReason, State, Status, DEFAULT_THRESHOLDS,
};
pub use compliance::{ComplianceBuilder, ComplianceReport, DurationStats};
pub use explain::{Explanation, PauseExplanation, RuleExplanation, ThresholdExplanation};
pub use policy::{
    Condition, LoadError, Matched, Objective, Policy, PolicyError, Rule, RuleAction, Selector,
    DEFAULT_ON_TIME_TARGET,
};
