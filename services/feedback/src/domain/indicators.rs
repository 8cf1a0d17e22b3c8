//! Activities and the process indicators computed from them: the objective, continuous quality
//! figures of an agent (or of every agent) over a period.
//!
//! Other services record what happened as [`Activity`] values, once per sender event. A store
//! counts them per agent with `COUNT`/`SUM` into [`ActivityCounts`] and counts the surveys that
//! rated the agent into [`SurveyCounts`]; [`Indicators::compute`] turns the counts into the
//! rates, the mean survey score, its grade and the dimension gaps — the one place each ratio
//! and its value "when none" lives.

use chrono::{DateTime, TimeDelta, Utc};
use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

use super::grades::{Grade, GradeRules};
use super::scores::{Dimension, DimensionTally, Dimensions, Tally};
use super::{coded, Subject, SubjectKind};

/// The clock kind of a first-contact clock, as the complaints service names it.
pub const FIRST_CONTACT: &str = "FIRST_CONTACT";
/// The clock kind of a resolution clock, as the complaints service names it.
pub const RESOLUTION: &str = "RESOLUTION";
/// The longest period indicators are computed over.
pub const MAX_PERIOD: TimeDelta = TimeDelta::days(366);
/// The longest category or clock kind of an activity.
pub const MAX_CODE: usize = 100;

coded! {
    /// What happened in another service.
    pub enum ActivityKind {
        /// An agent handled a customer contact (the denominator of the complaint rate).
        ContactHandled = "contact_handled",
        /// A complaint was received.
        ComplaintReceived = "complaint_received",
        /// An SLA clock stopped before its deadline.
        ClockMet = "clock_met",
        /// An SLA clock stopped after its deadline.
        ClockMetLate = "clock_met_late",
        /// An SLA clock breached.
        ClockBreached = "clock_breached",
        /// A field job was completed.
        FieldJobCompleted = "field_job_completed",
        /// A visit was completed.
        VisitCompleted = "visit_completed",
        /// Any contact from the customer.
        CustomerContact = "customer_contact",
    }
}

impl ActivityKind {
    /// True for the kinds that end an SLA clock (met, met late, breached).
    pub fn ends_clock(self) -> bool {
        matches!(
            self,
            ActivityKind::ClockMet | ActivityKind::ClockMetLate | ActivityKind::ClockBreached
        )
    }
}

/// What a sender reports: one thing that happened in its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// What happened.
    pub kind: ActivityKind,
    /// The customer concerned.
    pub customer_id: String,
    /// The agent concerned; empty when none.
    pub agent_id: String,
    /// What it is about, when the sender said.
    pub subject: Option<Subject>,
    /// For complaints: the complaint's nature as its service names it; empty when none.
    pub category: String,
    /// For clocks: the clock kind as its service names it, e.g. [`RESOLUTION`]; empty when
    /// none.
    pub clock_kind: String,
    /// When it happened.
    pub occur_time: DateTime<Utc>,
    /// The sending service.
    pub source_service: String,
    /// The sender's event id: with `source_service`, what makes a retried delivery a
    /// duplicate.
    pub source_event_id: String,
}

impl NewActivity {
    /// Checks the required fields and the sizes; violations name `activity.<field>`.
    pub fn check(&self, v: &mut Violations) {
        v.require_id("activity.customer_id", &self.customer_id);
        v.max_id("activity.agent_id", &self.agent_id);
        if let Some(s) = &self.subject {
            if s.kind == SubjectKind::General {
                v.max_id("activity.subject.id", &s.id);
            } else {
                v.require_id("activity.subject.id", &s.id);
            }
        }
        v.max_len("activity.category", &self.category, MAX_CODE);
        v.max_len("activity.clock_kind", &self.clock_kind, MAX_CODE);
        v.require_id("activity.source_service", &self.source_service);
        v.require_id("activity.source_event_id", &self.source_event_id);
    }
}

/// One thing that happened in another service, recorded once per sender event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Server-assigned id.
    pub id: String,
    /// What the sender reported, its texts trimmed.
    pub reported: NewActivity,
    /// When it was recorded here.
    pub create_time: DateTime<Utc>,
}

impl Activity {
    /// Records what a sender reported under `id` at `now`, after checking it.
    pub fn record(id: String, input: NewActivity, now: DateTime<Utc>) -> Result<Self, RuleError> {
        let mut v = Violations::default();
        input.check(&mut v);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        let trim = |s: String| s.trim().to_owned();
        let NewActivity {
            kind,
            customer_id,
            agent_id,
            subject,
            category,
            clock_kind,
            occur_time,
            source_service,
            source_event_id,
        } = input;
        Ok(Self {
            id,
            reported: NewActivity {
                kind,
                customer_id: trim(customer_id),
                agent_id: trim(agent_id),
                subject: subject.map(|s| Subject {
                    kind: s.kind,
                    id: trim(s.id),
                }),
                category: trim(category),
                clock_kind: trim(clock_kind),
                occur_time,
                source_service: trim(source_service),
                source_event_id: trim(source_event_id),
            },
            create_time: now,
        })
    }
}

/// A period: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First instant in the period.
    pub start: DateTime<Utc>,
    /// First instant after it.
    pub end: DateTime<Utc>,
}

impl Period {
    /// The period from `start` to `end`: `end` after `start`, at most [`MAX_PERIOD`] later.
    /// Violations name `period_end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, RuleError> {
        if end <= start {
            return Err(RuleError::invalid(
                "period_end",
                "must be after period_start",
            ));
        }
        if end - start > MAX_PERIOD {
            return Err(RuleError::invalid(
                "period_end",
                format!(
                    "must be at most {} days after period_start",
                    MAX_PERIOD.num_days()
                ),
            ));
        }
        Ok(Self { start, end })
    }
}

/// What a deployment configures about the indicators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndicatorRules {
    /// A complaint is a repeat when the same customer complained within this long before it.
    /// Default 30 days.
    pub repeat_window: TimeDelta,
    /// The on-time rate a clock kind should reach. Default 0.98, the telecom standard.
    pub on_time_target: f64,
}

impl Default for IndicatorRules {
    fn default() -> Self {
        Self {
            repeat_window: TimeDelta::days(30),
            on_time_target: 0.98,
        }
    }
}

impl IndicatorRules {
    /// True when `on_time_rate` reaches the target.
    pub fn meets_target(&self, on_time_rate: f64) -> bool {
        on_time_rate >= self.on_time_target
    }
}

/// Counts of activities over a period (for one agent, or for all), everything a store can
/// compute with `COUNT` and conditional `SUM`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityCounts {
    /// CONTACT_HANDLED activities.
    pub contacts_handled: i64,
    /// COMPLAINT_RECEIVED activities.
    pub complaints: i64,
    /// Clocks met, met late or breached.
    pub clocks_total: i64,
    /// Clocks met on time.
    pub clocks_met: i64,
    /// First-contact clocks met, met late or breached.
    pub first_contact_clocks: i64,
    /// Of which met on time.
    pub first_contact_met: i64,
    /// Resolution clocks met, met late or breached.
    pub resolution_clocks: i64,
    /// Of which met on time.
    pub resolution_met: i64,
    /// Complaints from a customer who already complained within the repeat window before.
    pub repeat_complaints: i64,
    /// Distinct customers with any activity.
    pub customers: i64,
    /// Visits and field jobs completed.
    pub visits_completed: i64,
    /// CUSTOMER_CONTACT activities.
    pub customer_contacts: i64,
}

/// Counts and sums of the surveys that rated an agent (or any agent) in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SurveyCounts {
    /// Surveys with an overall score.
    pub surveys: i64,
    /// Sum of their overall scores (0-100 each).
    pub score_sum: f64,
    /// SERVQUAL answers per dimension: count, sum of expectations, sum of perceptions.
    pub dimensions: Dimensions<DimensionTally>,
}

/// The mean gap on one SERVQUAL dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DimensionGap {
    /// The dimension.
    pub dimension: Dimension,
    /// Mean perception − mean expectation, −6 to 6.
    pub mean_gap: f64,
    /// The answers it stands on.
    pub answers: i64,
}

/// The process indicators of one agent (or of all, `agent_id` empty) over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicators {
    /// The agent; empty for the total.
    pub agent_id: String,
    /// The period.
    pub period: Period,
    /// The activity counts.
    pub counts: ActivityCounts,
    /// complaints / contacts handled; 0 when no contacts.
    pub complaint_rate: f64,
    /// clocks met / clocks total; 1 when no clocks.
    pub on_time_rate: f64,
    /// repeat complaints / complaints; 0 when no complaints.
    pub repeat_complaint_rate: f64,
    /// complaints × 1000 / customers; 0 when no customers.
    pub complaints_per_thousand_customers: f64,
    /// first-contact clocks met / first-contact clocks; 1 when none.
    pub first_contact_on_time_rate: f64,
    /// resolution clocks met / resolution clocks; 1 when none.
    pub resolution_on_time_rate: f64,
    /// (contacts handled + customer contacts + visits completed) / customers; 0 when no
    /// customers.
    pub contacts_per_customer: f64,
    /// Surveys that rated the agent (with an overall score).
    pub surveys: i64,
    /// Mean overall score of those surveys; 0 when none.
    pub mean_survey_score: f64,
    /// The grade of the mean score; `None` when no surveys.
    pub grade: Option<Grade>,
    /// Mean gap per dimension answered, in [`Dimension::ALL`] order.
    pub dimension_gaps: Vec<DimensionGap>,
}

/// `part / whole`, or `none` when `whole` is 0.
fn ratio_or(part: i64, whole: i64, none: f64) -> f64 {
    if whole > 0 {
        part as f64 / whole as f64
    } else {
        none
    }
}

impl Indicators {
    /// The indicators of `agent_id` (empty: the total) over `period` from its counts; the
    /// grade by `grades`.
    pub fn compute(
        agent_id: &str,
        period: Period,
        counts: &ActivityCounts,
        surveys: &SurveyCounts,
        grades: &GradeRules,
    ) -> Self {
        let c = counts;
        let mean_survey_score = if surveys.surveys > 0 {
            surveys.score_sum / surveys.surveys as f64
        } else {
            0.0
        };
        let tally = Tally {
            dimensions: surveys.dimensions,
            ..Tally::default()
        };
        let scores = tally.scores();
        let dimension_gaps = scores
            .dimensions
            .iter()
            .filter_map(|(dimension, d)| {
                d.gap.map(|mean_gap| DimensionGap {
                    dimension,
                    mean_gap,
                    answers: i64::try_from(d.answers).unwrap_or(i64::MAX),
                })
            })
            .collect();
        Self {
            agent_id: agent_id.to_owned(),
            period,
            counts: *c,
            complaint_rate: ratio_or(c.complaints, c.contacts_handled, 0.0),
            on_time_rate: ratio_or(c.clocks_met, c.clocks_total, 1.0),
            repeat_complaint_rate: ratio_or(c.repeat_complaints, c.complaints, 0.0),
            complaints_per_thousand_customers: ratio_or(c.complaints * 1000, c.customers, 0.0),
            first_contact_on_time_rate: ratio_or(c.first_contact_met, c.first_contact_clocks, 1.0),
            resolution_on_time_rate: ratio_or(c.resolution_met, c.resolution_clocks, 1.0),
            contacts_per_customer: ratio_or(
                c.contacts_handled + c.customer_contacts + c.visits_completed,
                c.customers,
                0.0,
            ),
            surveys: surveys.surveys,
            mean_survey_score,
            grade: (surveys.surveys > 0).then(|| grades.grade(mean_survey_score)),
            dimension_gaps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period() -> Period {
        let start = DateTime::from_timestamp(1_780_000_000, 0).expect("a valid instant");
        Period::new(start, start + TimeDelta::days(30)).expect("30 days is a period")
    }

    fn compute(counts: ActivityCounts, surveys: SurveyCounts) -> Indicators {
        Indicators::compute(
            "agent-7",
            period(),
            &counts,
            &surveys,
            &GradeRules::default(),
        )
    }

    #[test]
    fn nothing_recorded_gives_zero_rates_full_on_time_rates_and_no_grade() {
        let i = compute(ActivityCounts::default(), SurveyCounts::default());
        assert_eq!(i.complaint_rate, 0.0);
        assert_eq!(i.repeat_complaint_rate, 0.0);
        assert_eq!(i.complaints_per_thousand_customers, 0.0);
        assert_eq!(i.contacts_per_customer, 0.0);
        assert_eq!(i.on_time_rate, 1.0);
        assert_eq!(i.first_contact_on_time_rate, 1.0);
        assert_eq!(i.resolution_on_time_rate, 1.0);
        assert_eq!((i.surveys, i.mean_survey_score, i.grade), (0, 0.0, None));
        assert!(i.dimension_gaps.is_empty());
    }

    #[test]
    fn rates_are_the_documented_ratios() {
        let counts = ActivityCounts {
            contacts_handled: 40,
            complaints: 4,
            clocks_total: 8,
            clocks_met: 6,
            first_contact_clocks: 4,
            first_contact_met: 4,
            resolution_clocks: 3,
            resolution_met: 1,
            repeat_complaints: 1,
            customers: 25,
            visits_completed: 5,
            customer_contacts: 5,
        };
        let i = compute(counts, SurveyCounts::default());
        // 4 / 40 = 0.1; 6 / 8 = 0.75; 1 / 4 = 0.25; 4 × 1000 / 25 = 160.
        assert_eq!(i.complaint_rate, 0.1);
        assert_eq!(i.on_time_rate, 0.75);
        assert_eq!(i.repeat_complaint_rate, 0.25);
        assert_eq!(i.complaints_per_thousand_customers, 160.0);
        // 4 / 4 = 1; 1 / 3; (40 + 5 + 5) / 25 = 2.
        assert_eq!(i.first_contact_on_time_rate, 1.0);
        assert!((i.resolution_on_time_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(i.contacts_per_customer, 2.0);
        assert_eq!(i.counts, counts);
        let rules = IndicatorRules::default();
        assert!(rules.meets_target(i.first_contact_on_time_rate));
        assert!(!rules.meets_target(i.on_time_rate));
        assert!(rules.meets_target(0.98));
    }

    #[test]
    fn the_mean_survey_score_is_graded_and_gaps_are_per_dimension_answered() {
        let mut dimensions = Dimensions::<DimensionTally>::default();
        // Empathy: (6, 4) and (6, 5): expectations 12, perceptions 9 → 4.5 − 6 = −1.5.
        *dimensions.get_mut(Dimension::Empathy) = DimensionTally {
            answers: 2,
            expectation_sum: 12,
            perception_sum: 9,
        };
        // Reliability: (5, 7) → +2.
        *dimensions.get_mut(Dimension::Reliability) = DimensionTally {
            answers: 1,
            expectation_sum: 5,
            perception_sum: 7,
        };
        let surveys = SurveyCounts {
            surveys: 2,
            // (100 + 85) / 2 = 92.5: good (90-95).
            score_sum: 185.0,
            dimensions,
        };
        let i = compute(ActivityCounts::default(), surveys);
        assert_eq!(i.mean_survey_score, 92.5);
        assert_eq!(i.grade, Some(Grade::Good));
        assert_eq!(
            i.dimension_gaps,
            [
                DimensionGap {
                    dimension: Dimension::Empathy,
                    mean_gap: -1.5,
                    answers: 2
                },
                DimensionGap {
                    dimension: Dimension::Reliability,
                    mean_gap: 2.0,
                    answers: 1
                },
            ]
        );
    }

    #[test]
    fn a_period_ends_after_it_starts_and_spans_at_most_366_days() {
        let start = period().start;
        assert!(Period::new(start, start + TimeDelta::days(366)).is_ok());
        for end in [
            start,
            start - TimeDelta::seconds(1),
            start + TimeDelta::days(366) + TimeDelta::microseconds(1),
        ] {
            let Err(RuleError::Invalid(v)) = Period::new(start, end) else {
                panic!("{end} should be refused");
            };
            assert_eq!(v.0[0].field, "period_end");
        }
    }

    #[test]
    fn an_activity_names_each_missing_or_oversized_field_and_is_recorded_trimmed() {
        let now = period().start;
        let mut a = NewActivity {
            kind: ActivityKind::ComplaintReceived,
            customer_id: " ".into(),
            agent_id: "a".repeat(101),
            subject: Some(Subject {
                kind: SubjectKind::Complaint,
                id: String::new(),
            }),
            category: "c".repeat(101),
            clock_kind: String::new(),
            occur_time: now,
            source_service: String::new(),
            source_event_id: "e1".into(),
        };
        let Err(RuleError::Invalid(v)) = Activity::record("act_1".into(), a.clone(), now) else {
            panic!("refused");
        };
        let fields: Vec<&str> = v.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "activity.customer_id",
                "activity.agent_id",
                "activity.subject.id",
                "activity.category",
                "activity.source_service"
            ]
        );
        a.customer_id = " cus_1 ".into();
        a.agent_id = String::new();
        a.subject = Some(Subject {
            kind: SubjectKind::General,
            id: String::new(),
        });
        a.category = "SERVICE_ATTITUDE".into();
        a.source_service = "complaints ".into();
        let recorded = Activity::record("act_1".into(), a, now).expect("valid");
        assert_eq!(recorded.reported.customer_id, "cus_1");
        assert_eq!(recorded.reported.source_service, "complaints");
        assert_eq!((recorded.id.as_str(), recorded.create_time), ("act_1", now));
    }

    #[test]
    fn clock_kinds_end_clocks_and_codes_round_trip() {
        let ending: Vec<ActivityKind> = ActivityKind::ALL
            .iter()
            .copied()
            .filter(|k| k.ends_clock())
            .collect();
        assert_eq!(
            ending,
            [
                ActivityKind::ClockMet,
                ActivityKind::ClockMetLate,
                ActivityKind::ClockBreached
            ]
        );
        for k in ActivityKind::ALL {
            assert_eq!(ActivityKind::from_code(k.code()), Some(*k));
        }
    }
}
