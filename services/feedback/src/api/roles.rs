//! Who may call each RPC of the feedback service (see `csops_runtime::auth`).

use csops_runtime::auth::{Role, RoleTable, AGENTS, READERS, SUPERVISORS};

/// Agents, their leads, and another service (complaints schedules callbacks, survey channels
/// deliver answers).
const AGENTS_AND_SERVICES: &[Role] = &[Role::Agent, Role::Supervisor, Role::Service];

/// Staff evaluations and scorecards: leads and operations, not agents reading each other's.
const MANAGEMENT: &[Role] = &[Role::Supervisor, Role::Ops];

/// One row per RPC; the test below checks it against the contract.
pub const ROLES: RoleTable = &[
    ("ScheduleCallback", AGENTS_AND_SERVICES),
    ("GetCallback", READERS),
    ("ListCallbacks", READERS),
    ("RecordCallbackAttempt", AGENTS),
    ("CancelCallback", AGENTS),
    ("FixCallbackFinding", AGENTS),
    ("CreateSurveyTemplate", SUPERVISORS),
    ("ReviseSurveyTemplate", SUPERVISORS),
    ("GetSurveyTemplate", READERS),
    ("ListSurveyTemplates", READERS),
    ("SendSurvey", AGENTS_AND_SERVICES),
    ("AnswerSurvey", AGENTS_AND_SERVICES),
    ("GetFeedbackScores", READERS),
    ("CreateSurvey", AGENTS_AND_SERVICES),
    ("GetSurvey", READERS),
    ("ListSurveys", READERS),
    ("AdjustSurveyScore", SUPERVISORS),
    // Visits and complaints report their activities; engineers record their own.
    (
        "RecordActivity",
        &[
            Role::Agent,
            Role::Supervisor,
            Role::FieldEngineer,
            Role::Service,
        ],
    ),
    ("ListProcessIndicators", READERS),
    ("RecordStaffMonth", SUPERVISORS),
    ("ListStaffEvaluations", MANAGEMENT),
    ("ListScorecards", MANAGEMENT),
    ("ListChurnRiskSignals", READERS),
    ("AcknowledgeChurnRiskSignal", AGENTS),
    ("ResolveChurnRiskSignal", AGENTS),
    ("RecordCustomerLoss", AGENTS),
    ("CountCustomerLosses", READERS),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_role_table_lists_every_rpc_once() {
        csops_runtime::auth::check_table(super::ROLES, crate::SPEC.grpc_service)
            .unwrap_or_else(|problems| panic!("{problems}"));
    }
}
