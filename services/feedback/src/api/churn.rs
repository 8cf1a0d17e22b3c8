//! Churn handlers: the churn-risk signals (list, acknowledge, resolve) and lost customers
//! (record, count by reason). Each checks its request's sizes first (the limits are here: the
//! proto documents the loss note's 1000 characters; an action note is held to the same), then
//! validates every field, then makes one app call.

use chrono::TimeDelta;
use csops_proto::feedback::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::{from_timestamp, now, to_timestamp};
use csops_runtime::violations::{MAX_FILTER_VALUES, MAX_PAGE_TOKEN_LEN};
use csops_runtime::{Error, RuleError, Violations};

use super::convert::{actor, actor_pb};
use super::{done, FeedbackApi, DEFAULT_PAGE_SIZE};
use crate::domain::churn::loss::MAX_LOSS_NOTE;
use crate::domain::churn::signal::MAX_ACTION_NOTE;
use crate::domain::churn::tally::LossCount;
use crate::domain::churn::{
    ChurnKind, CustomerLoss, LossReason, NewCustomerLoss, RiskLevel, RiskSignal, SignalState,
};
use crate::store::churn::{SignalFilter, StoredSignal};
use crate::store::Delivery;

/// The states a listing shows when the request names none: the signals still to deal with.
const DEFAULT_STATES: [SignalState; 2] = [SignalState::Open, SignalState::Acknowledged];

fn state_of(n: i32) -> Option<SignalState> {
    Some(match pb::ChurnSignalState::try_from(n).ok()? {
        pb::ChurnSignalState::Open => SignalState::Open,
        pb::ChurnSignalState::Acknowledged => SignalState::Acknowledged,
        pb::ChurnSignalState::Resolved => SignalState::Resolved,
        pb::ChurnSignalState::Unspecified => return None,
    })
}

fn state_pb(s: SignalState) -> pb::ChurnSignalState {
    match s {
        SignalState::Open => pb::ChurnSignalState::Open,
        SignalState::Acknowledged => pb::ChurnSignalState::Acknowledged,
        SignalState::Resolved => pb::ChurnSignalState::Resolved,
    }
}

fn kind_of(n: i32) -> Option<ChurnKind> {
    Some(match pb::ChurnSignalKind::try_from(n).ok()? {
        pb::ChurnSignalKind::Silence => ChurnKind::Silence,
        pb::ChurnSignalKind::FallingScores => ChurnKind::FallingScores,
        pb::ChurnSignalKind::UnhappyCallback => ChurnKind::UnhappyCallback,
        pb::ChurnSignalKind::RepeatComplaints => ChurnKind::RepeatComplaints,
        pb::ChurnSignalKind::NegativeGap => ChurnKind::NegativeGap,
        pb::ChurnSignalKind::StoppedAnswering => ChurnKind::StoppedAnswering,
        pb::ChurnSignalKind::Unspecified => return None,
    })
}

fn kind_pb(k: ChurnKind) -> pb::ChurnSignalKind {
    match k {
        ChurnKind::Silence => pb::ChurnSignalKind::Silence,
        ChurnKind::FallingScores => pb::ChurnSignalKind::FallingScores,
        ChurnKind::UnhappyCallback => pb::ChurnSignalKind::UnhappyCallback,
        ChurnKind::RepeatComplaints => pb::ChurnSignalKind::RepeatComplaints,
        ChurnKind::NegativeGap => pb::ChurnSignalKind::NegativeGap,
        ChurnKind::StoppedAnswering => pb::ChurnSignalKind::StoppedAnswering,
    }
}

fn level_of(n: i32) -> Option<RiskLevel> {
    Some(match pb::RiskLevel::try_from(n).ok()? {
        pb::RiskLevel::Low => RiskLevel::Low,
        pb::RiskLevel::Medium => RiskLevel::Medium,
        pb::RiskLevel::High => RiskLevel::High,
        pb::RiskLevel::Unspecified => return None,
    })
}

fn level_pb(l: RiskLevel) -> pb::RiskLevel {
    match l {
        RiskLevel::Low => pb::RiskLevel::Low,
        RiskLevel::Medium => pb::RiskLevel::Medium,
        RiskLevel::High => pb::RiskLevel::High,
    }
}

fn reason_of(n: i32) -> Option<LossReason> {
    Some(match pb::LossReason::try_from(n).ok()? {
        pb::LossReason::StaffIndifference => LossReason::StaffIndifference,
        pb::LossReason::ProductDissatisfaction => LossReason::ProductDissatisfaction,
        pb::LossReason::CompetitionPrice => LossReason::CompetitionPrice,
        pb::LossReason::RelationshipElsewhere => LossReason::RelationshipElsewhere,
        pb::LossReason::MovedAway => LossReason::MovedAway,
        pb::LossReason::Deceased => LossReason::Deceased,
        pb::LossReason::Other => LossReason::Other,
        pb::LossReason::Unspecified => return None,
    })
}

fn reason_pb(r: LossReason) -> pb::LossReason {
    match r {
        LossReason::StaffIndifference => pb::LossReason::StaffIndifference,
        LossReason::ProductDissatisfaction => pb::LossReason::ProductDissatisfaction,
        LossReason::CompetitionPrice => pb::LossReason::CompetitionPrice,
        LossReason::RelationshipElsewhere => pb::LossReason::RelationshipElsewhere,
        LossReason::MovedAway => pb::LossReason::MovedAway,
        LossReason::Deceased => pb::LossReason::Deceased,
        LossReason::Other => pb::LossReason::Other,
    }
}

fn delivery_pb(d: Delivery) -> pb::DeliveryState {
    match d {
        Delivery::None => pb::DeliveryState::Unspecified,
        Delivery::Pending => pb::DeliveryState::Pending,
        Delivery::Delivered => pb::DeliveryState::Delivered,
    }
}

fn duration_pb(d: TimeDelta) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.num_seconds(),
        nanos: d.subsec_nanos(),
    }
}

/// The proto signal: the latest step taken (resolve, else acknowledge) gives the action note,
/// who handled it and when.
fn signal_pb(stored: &StoredSignal) -> pb::ChurnRiskSignal {
    let StoredSignal { signal, delivery } = stored;
    let RiskSignal {
        id,
        customer_id,
        kind,
        level,
        state,
        evidence,
        silence,
        recent_scores,
        evidence_ids,
        // Part of the id; the contract does not show it.
        episode_start: _,
        detect_time,
        // Shown through last_handling().
        acknowledged: _,
        resolved: _,
        update_time: _,
        version: _,
    } = signal;
    let last = signal.last_handling();
    pb::ChurnRiskSignal {
        id: id.clone(),
        customer_id: customer_id.clone(),
        kind: kind_pb(*kind) as i32,
        level: level_pb(*level) as i32,
        state: state_pb(*state) as i32,
        evidence: evidence.clone(),
        silence: silence.map(duration_pb),
        recent_scores: recent_scores.clone(),
        evidence_ids: evidence_ids.clone(),
        customers_delivery: delivery_pb(*delivery) as i32,
        detect_time: Some(to_timestamp(*detect_time)),
        action_note: last.map(|h| h.note.clone()).unwrap_or_default(),
        handled_by: last.map(|h| actor_pb(&h.actor)),
        handle_time: last.map(|h| to_timestamp(h.time)),
    }
}

fn loss_pb(loss: &CustomerLoss) -> pb::CustomerLoss {
    let CustomerLoss {
        customer_id,
        reason,
        note,
        loss_time,
        recorded_by,
        create_time,
    } = loss;
    pb::CustomerLoss {
        customer_id: customer_id.clone(),
        reason: reason_pb(*reason) as i32,
        note: note.clone(),
        loss_time: Some(to_timestamp(*loss_time)),
        recorded_by: Some(actor_pb(recorded_by)),
        create_time: Some(to_timestamp(*create_time)),
    }
}

fn actor_size(v: &mut Violations, actor: Option<&pb::Actor>) {
    if let Some(pb::Actor { id, role: _ }) = actor {
        v.max_id("actor.id", id);
    }
}

fn signal_filters(f: &SignalFilter) -> Filters {
    let SignalFilter {
        customer_id,
        states,
        kinds,
        min_level,
    } = f;
    Filters::new("ListChurnRiskSignals")
        .with("customer_id", customer_id.as_deref().unwrap_or(""))
        .with_all("states", states.iter().map(|s| s.code()))
        .with_all("kinds", kinds.iter().map(|k| k.code()))
        .with("min_level", min_level.map_or("", |l| l.code()))
}

pub(super) async fn list_churn_risk_signals(
    api: &FeedbackApi,
    request: pb::ListChurnRiskSignalsRequest,
) -> Result<pb::ListChurnRiskSignalsResponse, Error> {
    let pb::ListChurnRiskSignalsRequest {
        page_size,
        page_token,
        customer_id,
        states,
        kinds,
        min_level,
    } = request;
    let mut v = Violations::default();
    v.max_len("page_token", &page_token, MAX_PAGE_TOKEN_LEN);
    v.max_id("customer_id", &customer_id);
    v.max_items("states", states.len(), MAX_FILTER_VALUES);
    v.max_items("kinds", kinds.len(), MAX_FILTER_VALUES);
    done(v)?;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let mut states: Vec<SignalState> = if states.is_empty() {
        DEFAULT_STATES.to_vec()
    } else {
        states
            .iter()
            .enumerate()
            .filter_map(|(i, n)| v.required_enum(state_of(*n), *n, &format!("states[{i}]")))
            .collect()
    };
    states.sort();
    states.dedup();
    let mut kinds: Vec<ChurnKind> = kinds
        .iter()
        .enumerate()
        .filter_map(|(i, n)| v.required_enum(kind_of(*n), *n, &format!("kinds[{i}]")))
        .collect();
    kinds.sort();
    kinds.dedup();
    let customer_id = customer_id.trim();
    let filter = SignalFilter {
        customer_id: (!customer_id.is_empty()).then(|| customer_id.to_owned()),
        states,
        kinds,
        min_level: v.optional_enum(level_of(min_level), min_level, "min_level"),
    };
    let filters = signal_filters(&filter);
    let before = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_signals(&filter, before.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.signal.detect_time.timestamp_micros(),
        id: last.signal.id.clone(),
    });
    Ok(pb::ListChurnRiskSignalsResponse {
        signals: rows.iter().map(signal_pb).collect(),
        next_page_token,
    })
}

/// Checks the sizes and fields of an acknowledge or resolve: (signal id, note, actor).
fn handling(
    signal_id: &str,
    action_note: &str,
    who: Option<pb::Actor>,
) -> Result<crate::domain::Actor, Error> {
    let mut v = Violations::default();
    v.max_id("signal_id", signal_id);
    v.max_len("action_note", action_note, MAX_ACTION_NOTE);
    actor_size(&mut v, who.as_ref());
    done(v)?;
    let mut v = Violations::default();
    v.require_id("signal_id", signal_id);
    if action_note.trim().is_empty() {
        v.push(
            "action_note",
            "is required: say what will be done or was done",
        );
    }
    let who = actor(who, &mut v);
    done(v)?;
    Ok(who)
}

pub(super) async fn acknowledge_churn_risk_signal(
    api: &FeedbackApi,
    request: pb::AcknowledgeChurnRiskSignalRequest,
) -> Result<pb::AcknowledgeChurnRiskSignalResponse, Error> {
    let pb::AcknowledgeChurnRiskSignalRequest {
        signal_id,
        action_note,
        actor,
    } = request;
    let actor = handling(&signal_id, &action_note, actor)?;
    let signal = api
        .core
        .acknowledge_signal(signal_id.trim(), &action_note, actor)
        .await?;
    Ok(pb::AcknowledgeChurnRiskSignalResponse {
        signal: Some(signal_pb(&signal)),
    })
}

pub(super) async fn resolve_churn_risk_signal(
    api: &FeedbackApi,
    request: pb::ResolveChurnRiskSignalRequest,
) -> Result<pb::ResolveChurnRiskSignalResponse, Error> {
    let pb::ResolveChurnRiskSignalRequest {
        signal_id,
        action_note,
        actor,
    } = request;
    let actor = handling(&signal_id, &action_note, actor)?;
    let signal = api
        .core
        .resolve_signal(signal_id.trim(), &action_note, actor)
        .await?;
    Ok(pb::ResolveChurnRiskSignalResponse {
        signal: Some(signal_pb(&signal)),
    })
}

pub(super) async fn record_customer_loss(
    api: &FeedbackApi,
    request: pb::RecordCustomerLossRequest,
) -> Result<pb::RecordCustomerLossResponse, Error> {
    let mut v = Violations::default();
    if let Some(pb::CustomerLoss {
        customer_id,
        reason: _,
        note,
        loss_time: _,
        recorded_by: _,
        create_time: _,
    }) = &request.loss
    {
        v.max_id("loss.customer_id", customer_id);
        v.max_len("loss.note", note, MAX_LOSS_NOTE);
    }
    v.max_id("request_id", &request.request_id);
    actor_size(&mut v, request.actor.as_ref());
    done(v)?;
    let key = Key::new("record-customer-loss", request.request_id.trim(), &request);
    let pb::RecordCustomerLossRequest {
        loss,
        request_id,
        actor: who,
    } = request;
    let mut v = Violations::default();
    v.require_request_id(&request_id);
    let who = actor(who, &mut v);
    let input = match loss {
        None => {
            v.push("loss", "is required");
            None
        }
        Some(pb::CustomerLoss {
            customer_id,
            reason,
            note,
            loss_time,
            // Output only.
            recorded_by: _,
            create_time: _,
        }) => {
            let input = NewCustomerLoss {
                customer_id,
                reason: v.optional_enum(reason_of(reason), reason, "loss.reason"),
                note,
                loss_time: from_timestamp("loss.loss_time", loss_time, &mut v),
            };
            // The domain's checks now, so every broken field is named at once.
            if let Err(RuleError::Invalid(found)) = CustomerLoss::record(input.clone(), &who, now())
            {
                let mut found = found.prefixed("loss");
                found
                    .0
                    .retain(|f| !v.0.iter().any(|seen| seen.field == f.field));
                v.extend(found);
            }
            Some(input)
        }
    };
    done(v)?;
    let Some(input) = input else {
        return Err(Error::invalid("loss", "is required"));
    };
    let loss = api
        .core
        .record_loss(input, &key, who)
        .await
        .map_err(|e| e.in_field("loss"))?;
    Ok(pb::RecordCustomerLossResponse {
        loss: Some(loss_pb(&loss)),
    })
}

pub(super) async fn count_customer_losses(
    api: &FeedbackApi,
    request: pb::CountCustomerLossesRequest,
) -> Result<pb::CountCustomerLossesResponse, Error> {
    let pb::CountCustomerLossesRequest {
        period_start,
        period_end,
    } = request;
    let mut v = Violations::default();
    if period_start.is_none() {
        v.push("period_start", "is required");
    }
    if period_end.is_none() {
        v.push("period_end", "is required");
    }
    let start = from_timestamp("period_start", period_start, &mut v);
    let end = from_timestamp("period_end", period_end, &mut v);
    if let (Some(start), Some(end)) = (start, end) {
        if end <= start {
            v.push("period_end", "must be after period_start");
        }
    }
    done(v)?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(Error::invalid("period_start", "is required"));
    };
    let (counts, total) = api.core.count_losses(start, end).await?;
    Ok(pb::CountCustomerLossesResponse {
        counts: counts
            .iter()
            .map(
                |LossCount {
                     reason,
                     count,
                     share,
                 }| pb::LossCount {
                    reason: reason_pb(*reason) as i32,
                    count: *count,
                    share: *share,
                },
            )
            .collect(),
        total,
    })
}
