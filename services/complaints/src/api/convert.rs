//! Conversions between the proto messages and the domain. Domain → proto names every proto
//! field, so a field added to the contract breaks the build until it is handled here (enum
//! numbers are mapped in `enums`).

use chrono::{DateTime, TimeDelta, Utc};
use csops_proto::complaints::v1 as pb;
use csops_runtime::auth;
use csops_runtime::time::{from_micros, timestamp_to_micros, to_timestamp, to_timestamp_opt};
use csops_runtime::violations::quote;
use csops_sla::{
    CalendarSummary, Condition, Explanation, PauseExplanation, RuleExplanation,
    ThresholdExplanation,
};
use prost_types::{Duration, Timestamp};

use super::enums::ProtoEnum;
use crate::domain::{
    reply, Actor, Call, CallDirection, CallbackAttempt, Channel, Compensation, Complaint, Details,
    Entry, Escalation, Input, Nature, Patch, PlanStep, Promise, Reference, Role, Rules, Severity,
    SlaClock, SlaEvent, Trait, Transition, Violations,
};

/// The Timestamp of an instant that is always set.
fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(to_timestamp(t))
}

/// Reads a request's Timestamp field at the precision of storage (whole microseconds): `None`
/// when unset or not after the epoch (which the contract has always read as unset), a field
/// violation (and `None`) when out of range.
pub(crate) fn instant(
    field: &str,
    t: Option<Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    let micros = timestamp_to_micros(field, t, v);
    (micros > 0).then(|| from_micros(micros))
}

fn dur(d: TimeDelta) -> Option<Duration> {
    let d = d.max(TimeDelta::zero());
    Some(Duration {
        seconds: d.num_seconds(),
        nanos: 0,
    })
}

/// A call's length, to the microsecond.
fn dur_exact(d: TimeDelta) -> Option<Duration> {
    Some(Duration {
        seconds: d.num_seconds(),
        nanos: d.subsec_nanos(),
    })
}

/// A call's length from the request, in whole microseconds (saturating; negative lengths are
/// the domain's to refuse).
fn from_dur(d: Option<Duration>) -> TimeDelta {
    TimeDelta::microseconds(d.map_or(0, |d| {
        d.seconds
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(d.nanos) / 1000)
    }))
}

/// Reads the actor of a mutation: the verified caller when authentication is on (the
/// request's actor is then ignored: no one acts as someone else); otherwise the request's
/// required actor.
pub(crate) fn actor(a: Option<pb::Actor>, v: &mut Violations) -> Actor {
    if let Some(caller) = csops_runtime::auth::caller() {
        return Actor {
            role: match caller.acting_role() {
                auth::Role::Manager => Role::Manager,
                auth::Role::Supervisor => Role::Supervisor,
                auth::Role::Service => Role::System,
                auth::Role::Agent | auth::Role::FieldEngineer | auth::Role::Ops => Role::Agent,
            },
            id: caller.subject,
        };
    }
    let pb::Actor { id, role } = a.unwrap_or_default();
    if id.trim().is_empty() {
        v.push("actor.id", "is required");
    } else {
        v.max_id("actor.id", &id);
    }
    let role = Role::from_number(role).unwrap_or_else(|| {
        v.push(
            "actor.role",
            "is required (AGENT, SUPERVISOR, MANAGER or SYSTEM)",
        );
        Role::Agent
    });
    Actor {
        id: id.trim().to_owned(),
        role,
    }
}

fn actor_pb(a: &Actor) -> Option<pb::Actor> {
    let Actor { id, role } = a;
    Some(pb::Actor {
        id: id.clone(),
        role: role.number(),
    })
}

/// Parses a required enum field.
pub(crate) fn required<T>(parsed: Option<T>, field: &str, v: &mut Violations) -> Option<T> {
    if parsed.is_none() {
        v.push(field, "is required");
    }
    parsed
}

/// The complaint fields a create takes.
pub(crate) fn input(c: pb::Complaint, v: &mut Violations) -> Input {
    let mut traits = Vec::new();
    for (i, t) in c.complainant_traits.iter().enumerate() {
        match Trait::from_number(*t) {
            Some(t) => traits.push(t),
            None => v.push(
                format!("complaint.complainant_traits[{i}]"),
                "unknown trait",
            ),
        }
    }
    Input {
        customer_id: c.customer_id,
        title: c.title,
        description: c.description,
        customer_demand: c.customer_demand,
        nature: Nature::from_number(c.nature),
        severity: Severity::from_number(c.severity),
        channel: Channel::from_number(c.channel),
        traits,
        references: c
            .references
            .into_iter()
            .map(|r| Reference {
                kind: r.kind,
                id: r.id,
            })
            .collect(),
        receive_time: instant("complaint.receive_time", c.receive_time, v),
    }
}

/// The fields UpdateComplaint may change, by mask path.
pub(crate) const UPDATABLE: &[&str] = &[
    "title",
    "description",
    "customer_demand",
    "nature",
    "severity",
    "channel",
    "complainant_traits",
    "references",
    "resolution.lesson_learned",
];

/// The masked fields of an update.
pub(crate) fn patch(c: pb::Complaint, paths: &[String]) -> Result<Patch, Violations> {
    let mut v = Violations::default();
    let mut p = Patch::default();
    if paths.is_empty() {
        v.push("update_mask", "name at least one field to change");
    }
    let pb::Complaint {
        title,
        description,
        customer_demand,
        nature,
        severity,
        channel,
        complainant_traits,
        references,
        resolution,
        ..
    } = c;
    let mut title = Some(title);
    let mut description = Some(description);
    let mut customer_demand = Some(customer_demand);
    let mut references = Some(references);
    let mut complainant_traits = Some(complainant_traits);
    let mut resolution = resolution;
    for path in paths {
        match path.as_str() {
            "title" => p.title = title.take(),
            "description" => p.description = description.take(),
            "customer_demand" => p.customer_demand = customer_demand.take(),
            "nature" => {
                p.nature = Nature::from_number(nature);
                if p.nature.is_none() {
                    v.push("complaint.nature", "is required when masked");
                }
            }
            "severity" => {
                p.severity = Severity::from_number(severity);
                if p.severity.is_none() {
                    v.push("complaint.severity", "is required when masked");
                }
            }
            "channel" => {
                p.channel = Channel::from_number(channel);
                if p.channel.is_none() {
                    v.push("complaint.channel", "is required when masked");
                }
            }
            "complainant_traits" => {
                let mut traits = Vec::new();
                for (i, t) in complainant_traits
                    .take()
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    match Trait::from_number(*t) {
                        Some(t) => traits.push(t),
                        None => v.push(
                            format!("complaint.complainant_traits[{i}]"),
                            "unknown trait",
                        ),
                    }
                }
                p.traits = Some(traits);
            }
            "references" => {
                p.references = Some(
                    references
                        .take()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|r| Reference {
                            kind: r.kind,
                            id: r.id,
                        })
                        .collect(),
                )
            }
            "resolution.lesson_learned" => {
                p.lesson_learned = Some(
                    resolution
                        .take()
                        .map(|r| r.lesson_learned)
                        .unwrap_or_default(),
                )
            }
            other => v.push(
                "update_mask",
                format!(
                    "{} cannot be updated; allowed: {}",
                    quote(other),
                    UPDATABLE.join(", ")
                ),
            ),
        }
    }
    if v.is_empty() {
        Ok(p)
    } else {
        Err(v)
    }
}

/// The `i`th plan step from the request.
pub(crate) fn plan_step(i: usize, s: pb::PlanStep, v: &mut Violations) -> PlanStep {
    let pb::PlanStep {
        description,
        owner_id,
        due_time,
    } = s;
    PlanStep {
        description,
        owner_id,
        due_time: instant(&format!("plan[{i}].due_time"), due_time, v),
    }
}

/// A call from the request.
pub(crate) fn call(c: Option<pb::CallDetails>, v: &mut Violations) -> Option<Call> {
    let pb::CallDetails {
        direction,
        start_time,
        duration,
        reached,
        summary,
    } = c?;
    let direction = required(CallDirection::from_number(direction), "call.direction", v)?;
    Some(Call {
        direction,
        start_time: instant("call.start_time", start_time, v),
        duration: from_dur(duration),
        reached,
        summary,
    })
}

/// One clock as of `now`.
pub(crate) fn clock(c: &SlaClock, rules: &Rules, now: DateTime<Utc>) -> pb::SlaClock {
    let status = rules.status(&c.clock, now);
    let state = match status.state {
        csops_sla::State::Running | csops_sla::State::AtRisk => pb::SlaClockState::Running,
        csops_sla::State::Paused => pb::SlaClockState::Paused,
        csops_sla::State::Met => pb::SlaClockState::Met,
        csops_sla::State::MetLate => pb::SlaClockState::MetLate,
        csops_sla::State::Breached => pb::SlaClockState::Breached,
        csops_sla::State::Cancelled => pb::SlaClockState::Cancelled,
    };
    let open = c.is_open();
    let stop = match c.clock.ending() {
        Some(csops_sla::Ending::Stopped(t) | csops_sla::Ending::Cancelled(t)) => Some(t),
        None => None,
    };
    pb::SlaClock {
        id: c.id.clone(),
        kind: c.kind.number(),
        state: state as i32,
        at_risk: open && status.at_risk.is_some(),
        at_risk_threshold_percent: status.at_risk.map_or(0, i32::from),
        target: dur(c.clock.spec().target),
        start_time: ts(c.clock.started_at()),
        deadline: ts(status.deadline),
        stop_time: to_timestamp_opt(stop),
        breach_time: to_timestamp_opt(status.breached_at),
        paused: dur(status.paused),
        pause_start_time: to_timestamp_opt(status.paused_since),
        elapsed: dur(status.elapsed),
        remaining: dur(status.remaining),
        rule_id: c.clock.spec().rule.clone(),
        calendar_id: c.clock.spec().calendar.clone(),
    }
}

fn transition(t: &Transition) -> pb::StateTransition {
    let Transition {
        from,
        to,
        actor,
        time,
        reason,
    } = t;
    pb::StateTransition {
        from_state: from.map_or(0, |s| s.number()),
        to_state: to.number(),
        actor: actor_pb(actor),
        transition_time: ts(*time),
        reason: reason.clone(),
    }
}

fn escalation(e: &Escalation) -> pb::Escalation {
    let Escalation {
        from,
        to,
        reason,
        clock_id,
        promise_id,
        escalated_to_id,
        note,
        actor,
        time,
    } = e;
    pb::Escalation {
        from_level: from.number(),
        to_level: to.number(),
        reason: reason.number(),
        clock_id: clock_id.clone(),
        promise_id: promise_id.clone(),
        escalated_to_id: escalated_to_id.clone(),
        note: note.clone(),
        actor: actor_pb(actor),
        escalate_time: ts(*time),
    }
}

/// A promise.
pub(crate) fn promise(p: &Promise) -> pb::Promise {
    let Promise {
        id,
        description,
        due_time,
        promised_by,
        make_time,
        state,
        keep_time,
        kept_by,
        changes,
        warned,
    } = p;
    pb::Promise {
        id: id.clone(),
        description: description.clone(),
        due_time: ts(*due_time),
        promised_by: actor_pb(promised_by),
        make_time: ts(*make_time),
        state: state.number(),
        keep_time: to_timestamp_opt(*keep_time),
        kept_by: kept_by.as_ref().and_then(actor_pb),
        changes: changes
            .iter()
            .map(|c| pb::PromiseChange {
                previous_due_time: ts(c.previous_due_time),
                new_due_time: ts(c.new_due_time),
                reason: c.reason.clone(),
                customer_consent: c.customer_consent.clone(),
                actor: actor_pb(&c.actor),
                change_time: ts(c.time),
            })
            .collect(),
        warned: *warned,
    }
}

/// A compensation.
pub(crate) fn compensation(c: &Compensation) -> pb::Compensation {
    let Compensation {
        id,
        kind,
        description,
        amount_minor,
        currency_code,
        state,
        authority_limit_minor,
        approval_required,
        proposed_by,
        propose_time,
        decided_by,
        decide_time,
        decision_note,
    } = c;
    pb::Compensation {
        id: id.clone(),
        kind: kind.number(),
        description: description.clone(),
        amount_minor: *amount_minor,
        currency_code: currency_code.clone(),
        state: state.number(),
        authority_limit_minor: *authority_limit_minor,
        approval_required: *approval_required,
        proposed_by: actor_pb(proposed_by),
        propose_time: ts(*propose_time),
        decided_by: decided_by.as_ref().and_then(actor_pb),
        decide_time: to_timestamp_opt(*decide_time),
        decision_note: decision_note.clone(),
    }
}

fn callback(c: &CallbackAttempt) -> pb::CallbackAttempt {
    let CallbackAttempt {
        outcome,
        notes,
        actor,
        time,
        feedback_callback_id,
    } = c;
    pb::CallbackAttempt {
        outcome: outcome.number(),
        notes: notes.clone(),
        actor: actor_pb(actor),
        callback_time: ts(*time),
        feedback_callback_id: feedback_callback_id.clone(),
    }
}

/// An SLA event.
pub(crate) fn sla_event(e: &SlaEvent) -> pb::SlaEvent {
    let SlaEvent {
        id,
        complaint_id,
        clock_id,
        clock_kind,
        kind,
        threshold_percent,
        deadline,
        escalation_level,
        promise_id,
        assigned_agent_id,
        severity,
        customer_id,
        time,
    } = e;
    pb::SlaEvent {
        id: id.clone(),
        complaint_id: complaint_id.clone(),
        clock_id: clock_id.clone(),
        clock_kind: clock_kind.map_or(0, |k| k.number()),
        kind: kind.number(),
        threshold_percent: *threshold_percent,
        deadline: ts(*deadline),
        escalation_level: escalation_level.map_or(0, |l| l.number()),
        promise_id: promise_id.clone(),
        assigned_agent_id: assigned_agent_id.clone(),
        severity: severity.number(),
        customer_id: customer_id.clone(),
        event_time: ts(*time),
    }
}

/// A timeline entry.
pub(crate) fn entry(e: &Entry) -> pb::TimelineEntry {
    use pb::timeline_entry::Details as D;
    let Entry {
        id,
        complaint_id,
        sequence,
        actor,
        time,
        summary,
        details,
    } = e;
    let d = match details {
        Details::Note { text } => D::Note(pb::NoteDetails { text: text.clone() }),
        Details::Call(c) => D::Call(pb::CallDetails {
            direction: c.direction.number(),
            start_time: to_timestamp_opt(c.start_time),
            duration: dur_exact(c.duration),
            reached: c.reached,
            summary: c.summary.clone(),
        }),
        Details::StateChange(t) => D::StateChange(transition(t)),
        Details::Assignment {
            previous_agent_id,
            agent_id,
            reason,
        } => D::Assignment(pb::AssignmentDetails {
            previous_agent_id: previous_agent_id.clone(),
            agent_id: agent_id.clone(),
            reason: reason.clone(),
        }),
        Details::Escalation(x) => D::Escalation(escalation(x)),
        Details::Promise(p) => D::Promise(promise(p)),
        Details::Compensation(c) => D::Compensation(compensation(c)),
        Details::Callback(c) => D::Callback(callback(c)),
        Details::Sla(s) => D::SlaEvent(sla_event(s)),
        Details::Update { changed_fields } => D::Update(pb::UpdateDetails {
            changed_fields: changed_fields.clone(),
        }),
    };
    pb::TimelineEntry {
        id: id.clone(),
        complaint_id: complaint_id.clone(),
        sequence: *sequence,
        kind: details.kind().number(),
        actor: actor_pb(actor),
        create_time: ts(*time),
        summary: summary.clone(),
        details: Some(d),
    }
}

/// The whole complaint as of `now`.
pub(crate) fn complaint(c: &Complaint, rules: &Rules, now: DateTime<Utc>) -> pb::Complaint {
    pb::Complaint {
        id: c.id.clone(),
        customer_id: c.customer_id.clone(),
        title: c.title.clone(),
        description: c.description.clone(),
        customer_demand: c.customer_demand.clone(),
        nature: c.nature.number(),
        severity: c.severity.number(),
        channel: c.channel.number(),
        complainant_traits: c.traits.iter().map(|t| t.number()).collect(),
        priority: c.priority(rules).number(),
        state: c.state.number(),
        allowed_next_states: c.allowed_next(rules).iter().map(|s| s.number()).collect(),
        assigned_agent_id: c.assigned_agent_id.clone(),
        accountable_agent_id: c.accountable_agent_id.clone(),
        escalation_level: c.escalation_level.number(),
        customer: Some(pb::CustomerSnapshot {
            tier: c.customer.tier.number(),
            key_account: c.customer.key_account,
            region: c.customer.region.number(),
            defaulted: c.customer.defaulted,
            fetch_time: to_timestamp_opt(c.customer.fetch_time),
        }),
        clocks: c.clocks.iter().map(|k| clock(k, rules, now)).collect(),
        solutions: c
            .solutions
            .iter()
            .map(|s| pb::Solution {
                id: s.id.clone(),
                measures: s.measures.clone(),
                plan: s
                    .plan
                    .iter()
                    .map(|p| pb::PlanStep {
                        description: p.description.clone(),
                        owner_id: p.owner_id.clone(),
                        due_time: to_timestamp_opt(p.due_time),
                    })
                    .collect(),
                proposed_by: actor_pb(&s.proposed_by),
                propose_time: ts(s.propose_time),
                decision: s.decision.number(),
                decide_time: to_timestamp_opt(s.decide_time),
                customer_comment: s.customer_comment.clone(),
            })
            .collect(),
        resolution: c.resolution.as_ref().map(|r| pb::Resolution {
            summary: r.summary.clone(),
            root_cause: r.root_cause.clone(),
            corrective_action: r.corrective_action.clone(),
            lesson_learned: r.lesson_learned.clone(),
            company_at_fault: r.company_at_fault,
            resolved_by: actor_pb(&r.resolved_by),
            resolve_time: ts(r.resolve_time),
            accountable_party: r.accountable_party.clone(),
            effect_check: r.effect_check.as_ref().map(|e| pb::EffectCheck {
                effective: e.effective,
                note: e.note.clone(),
                checked_by: actor_pb(&e.checked_by),
                check_time: ts(e.check_time),
            }),
        }),
        callbacks: c.callbacks.iter().map(callback).collect(),
        promises: c.promises.iter().map(promise).collect(),
        compensations: c.compensations.iter().map(compensation).collect(),
        escalations: c.escalations.iter().map(escalation).collect(),
        state_history: c.history.iter().map(transition).collect(),
        reopen_count: c.reopen_count,
        references: c
            .references
            .iter()
            .map(|r| pb::ExternalReference {
                kind: r.kind.clone(),
                id: r.id.clone(),
            })
            .collect(),
        receive_time: ts(c.receive_time),
        created_by: actor_pb(&c.created_by),
        create_time: ts(c.create_time),
        update_time: ts(c.update_time),
        close_time: to_timestamp_opt(c.close_time),
        etag: c.etag(),
    }
}

/// Converts libs/sla's explanation of a clock (`Policy::explain`) into the proto, adding what
/// only the complaint knows: the clock as the API shows it and who paused and resumed it why.
pub(crate) fn explanation(
    c: &SlaClock,
    e: Explanation,
    rules: &Rules,
    now: DateTime<Utc>,
) -> pb::ClockExplanation {
    let Explanation {
        promise: _,
        evaluated_at,
        policy_version,
        rule,
        calendar,
        started_at: _,
        pauses,
        working_time_used,
        working_time_remaining,
        working_time_paused,
        deadline,
        state: _,
        thresholds,
        summary,
    } = e;
    let RuleExplanation {
        id,
        description,
        in_policy: _,
        target,
        base_target,
        factor,
        adjustment_rule,
        adjustment_description,
        adjustment_conditions,
        conditions,
        specificity,
        less_specific,
    } = rule;
    let condition = |Condition {
                         key,
                         expected,
                         actual,
                     }| pb::RuleCondition {
        key,
        expected,
        actual,
    };
    let CalendarSummary {
        name,
        always,
        time_zone,
        weekly_hours,
        makeup_hours: _,
        working_day: _,
        holidays,
        extra_working_days,
    } = calendar;
    let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    pb::ClockExplanation {
        clock: Some(clock(c, rules, now)),
        rule: Some(pb::MatchedRule {
            rule_id: id,
            description,
            policy_version,
            target: dur(target),
            base_target: dur(base_target),
            factor,
            conditions: conditions.into_iter().map(condition).collect(),
            specificity: i32::try_from(specificity).unwrap_or(i32::MAX),
            less_specific_rule_ids: less_specific,
            adjustment_rule_id: adjustment_rule.unwrap_or_default(),
            adjustment_description,
            adjustment_conditions: adjustment_conditions.into_iter().map(condition).collect(),
        }),
        calendar: Some(pb::CalendarSummary {
            calendar_id: name,
            time_zone: time_zone.unwrap_or_else(|| "UTC".into()),
            always_open: always,
            weekly_hours: (1..)
                .zip(weekdays)
                .filter_map(|(iso_weekday, day)| {
                    weekly_hours.get(day).map(|ranges| pb::WorkingHours {
                        iso_weekday,
                        ranges: ranges.iter().map(ToString::to_string).collect(),
                    })
                })
                .collect(),
            holidays: holidays.iter().map(ToString::to_string).collect(),
            extra_working_days: extra_working_days.iter().map(ToString::to_string).collect(),
        }),
        pauses: pauses
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let PauseExplanation {
                    from,
                    until,
                    reason: _,
                    working_time,
                } = p;
                // The complaint's note carries the API's reason (libs/sla knows only its own
                // coarser one), the free-text note and who paused and resumed.
                let note = c.pauses.get(i);
                pb::ClockPause {
                    reason: note.map_or(0, |n| n.reason.number()),
                    note: note.map(|n| n.note.clone()).unwrap_or_default(),
                    start_time: ts(from),
                    end_time: to_timestamp_opt(until),
                    working_time: dur(working_time),
                    paused_by: note.and_then(|n| actor_pb(&n.paused_by)),
                    resumed_by: note.and_then(|n| n.resumed_by.as_ref()).and_then(actor_pb),
                }
            })
            .collect(),
        working_time_used: dur(working_time_used),
        working_time_remaining: dur(working_time_remaining),
        working_time_paused: dur(working_time_paused),
        deadline: ts(deadline),
        thresholds: thresholds
            .into_iter()
            .map(
                |ThresholdExplanation {
                     percent,
                     at,
                     reached,
                 }| pb::ThresholdCrossing {
                    percent: i32::from(percent),
                    cross_time: ts(at),
                    passed: reached,
                },
            )
            .collect(),
        evaluate_time: ts(evaluated_at),
        summary,
    }
}

/// A reply violation.
pub(crate) fn violation(x: &reply::Violation) -> pb::ReplyViolation {
    let reply::Violation {
        rule_id,
        phrase,
        matched_text,
        start,
        end,
        category,
        suggestion,
    } = x;
    pb::ReplyViolation {
        rule_id: rule_id.clone(),
        phrase: phrase.clone(),
        matched_text: matched_text.clone(),
        start: i32::try_from(*start).unwrap_or(i32::MAX),
        end: i32::try_from(*end).unwrap_or(i32::MAX),
        category: category.number(),
        suggestion: suggestion.clone(),
    }
}
