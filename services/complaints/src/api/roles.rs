//! Who may call each RPC of the complaints service (see `csops_runtime::auth`). Which cases an
//! agent may touch is checked in `app::Complaints::load`: the cases assigned to them, and the
//! unassigned queue.

use csops_runtime::auth::{Role, RoleTable, AGENTS, READERS, SUPERVISORS};

/// Agents, their leads, and engineers on site (who hear complaints and add to them).
const FRONT_LINE: &[Role] = &[Role::Agent, Role::Supervisor, Role::FieldEngineer];

/// Agents, their leads, and another service acting for a system (feedback's callbacks, the
/// breach escalations of other tools).
const AGENTS_AND_SERVICES: &[Role] = &[Role::Agent, Role::Supervisor, Role::Service];

/// One row per RPC; the test below checks it against the contract.
pub const ROLES: RoleTable = &[
    ("CreateComplaint", FRONT_LINE),
    ("GetComplaint", READERS),
    ("ListComplaints", READERS),
    ("UpdateComplaint", AGENTS),
    ("AssignComplaint", SUPERVISORS),
    ("AcknowledgeComplaint", AGENTS),
    ("StartInvestigation", AGENTS),
    ("ProposeSolution", AGENTS),
    ("AcceptSolution", AGENTS),
    ("RejectSolution", AGENTS),
    ("ResolveComplaint", AGENTS),
    ("RecordCallback", AGENTS_AND_SERVICES),
    ("CloseComplaint", AGENTS),
    ("ReopenComplaint", AGENTS),
    ("ConfirmEffect", AGENTS),
    ("WithdrawComplaint", AGENTS),
    ("EscalateComplaint", AGENTS_AND_SERVICES),
    ("PauseClocks", SUPERVISORS),
    ("ResumeClocks", SUPERVISORS),
    ("ExplainClock", READERS),
    ("WatchSlaEvents", READERS),
    ("ListTimeline", READERS),
    ("AddNote", FRONT_LINE),
    ("RecordCall", AGENTS),
    ("MakePromise", AGENTS),
    ("KeepPromise", AGENTS),
    ("ReschedulePromise", AGENTS),
    ("ProposeCompensation", AGENTS),
    ("ApproveCompensation", SUPERVISORS),
    ("RejectCompensation", SUPERVISORS),
    ("CheckReply", AGENTS),
    ("ListReplyViolations", READERS),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_role_table_lists_every_rpc_once() {
        csops_runtime::auth::check_table(super::ROLES, crate::SPEC.grpc_service)
            .unwrap_or_else(|problems| panic!("{problems}"));
    }
}
