//! The gRPC API of the customers service: each method validates its request, applies the
//! domain rules, calls the store and converts the answer.

mod convert;
mod error;
mod page_token;

use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_server::CustomersService;
use csops_runtime::db::now_micros;
use tonic::{Request, Response, Status};

use crate::domain::{digits, Customer, RuleError, Violations};
use crate::error::Error;
use crate::store::{Inserted, ListFilter, SignalRecorded, Store};
use convert::customer_to_pb;
use page_token::PageToken;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

/// Implementation of `csops.customers.v1.CustomersService`.
#[derive(Debug, Clone)]
pub struct CustomersApi {
    store: Store,
}

impl CustomersApi {
    /// Serves customers from `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn load(&self, id: &str) -> Result<Customer, Error> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// Loads a customer, checks the caller's etag (empty = unconditional), applies `change`
    /// and saves it only if nobody changed it meanwhile.
    async fn modify(
        &self,
        id: &str,
        etag: &str,
        change: impl FnOnce(&mut Customer, i64) -> Result<(), RuleError>,
    ) -> Result<Customer, Error> {
        let mut customer = self.load(id).await?;
        check_etag(&customer, etag)?;
        let expected = customer.version;
        change(&mut customer, now_micros())?;
        if self.store.save(&customer, expected).await? {
            Ok(customer)
        } else {
            let current = self.load(id).await?;
            Err(Error::StaleEtag {
                id: id.to_owned(),
                given: customer_etag_given(etag, expected),
                current: current.etag(),
            })
        }
    }
}

fn customer_etag_given(etag: &str, expected: i64) -> String {
    if etag.is_empty() {
        format!("v{expected}")
    } else {
        etag.to_owned()
    }
}

fn check_etag(customer: &Customer, etag: &str) -> Result<(), Error> {
    if etag.is_empty() || etag == customer.etag() {
        Ok(())
    } else {
        Err(Error::StaleEtag {
            id: customer.id.clone(),
            given: etag.to_owned(),
            current: customer.etag(),
        })
    }
}

fn require_id(field: &str, id: &str) -> Result<(), Error> {
    if id.trim().is_empty() {
        Err(Error::invalid(field, "must not be empty"))
    } else if id.len() > 100 {
        Err(Error::invalid(field, "must be at most 100 characters"))
    } else {
        Ok(())
    }
}

/// Prefixes domain violations with the request field that holds the customer.
fn in_customer(error: RuleError) -> Error {
    match error {
        RuleError::Invalid(v) => Error::InvalidArgument(v.prefixed("customer")),
        RuleError::Precondition(message) => Error::FailedPrecondition(message),
    }
}

fn new_id() -> String {
    format!("cus_{}", uuid::Uuid::now_v7().simple())
}

#[tonic::async_trait]
impl CustomersService for CustomersApi {
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Result<Response<pb::CreateCustomerResponse>, Status> {
        let pb::CreateCustomerRequest {
            customer,
            request_id,
            actor_id,
        } = request.into_inner();
        let mut v = Violations::default();
        let request_id = request_id.trim().to_owned();
        if request_id.is_empty() || request_id.len() > 100 {
            v.push(
                "request_id",
                "must be 1-100 characters (e.g. a UUID) so retries are safe",
            );
        }
        let Some(customer) = customer else {
            v.push("customer", "is required");
            return Err(Error::InvalidArgument(v).into());
        };
        let input = match convert::new_customer(customer) {
            Ok(input) if v.is_empty() => input,
            Ok(_) => return Err(Error::InvalidArgument(v).into()),
            Err(more) => {
                v.extend(more);
                return Err(Error::InvalidArgument(v).into());
            }
        };
        let actor = if actor_id.trim().is_empty() {
            "unknown"
        } else {
            actor_id.trim()
        };
        let customer =
            Customer::create(new_id(), input, actor, now_micros()).map_err(in_customer)?;
        let customer = match self
            .store
            .insert(&customer, &request_id)
            .await
            .map_err(Error::from)?
        {
            Inserted::Created => {
                tracing::info!(customer_id = %customer.id, tier = customer.tier.code(), "customer created");
                customer
            }
            Inserted::Replayed(id) => {
                tracing::info!(customer_id = %id, "create replayed for a known request_id");
                self.load(&id).await?
            }
        };
        Ok(Response::new(pb::CreateCustomerResponse {
            customer: Some(customer_to_pb(&customer)),
        }))
    }

    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::GetCustomerResponse>, Status> {
        let pb::GetCustomerRequest { customer_id } = request.into_inner();
        require_id("customer_id", &customer_id)?;
        let customer = self.load(&customer_id).await?;
        Ok(Response::new(pb::GetCustomerResponse {
            customer: Some(customer_to_pb(&customer)),
        }))
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let pb::ListCustomersRequest {
            page_size,
            page_token,
            tier,
            region,
            key_account,
            owner_agent_id,
            query,
            archive_filter,
            min_churn_risk,
        } = request.into_inner();
        let mut v = Violations::default();
        let limit = match u32::try_from(page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) if n <= MAX_PAGE_SIZE => n,
            _ => {
                v.push(
                    "page_size",
                    format!("must be 0-{MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"),
                );
                DEFAULT_PAGE_SIZE
            }
        };
        let query = query.trim();
        if query.chars().count() > 100 {
            v.push("query", "must be at most 100 characters");
        }
        let query_digits = digits(query);
        let filter = ListFilter {
            tier: convert::optional_tier(tier, "tier", &mut v),
            region: convert::optional_region(region, "region", &mut v),
            key_account,
            owner_agent_id: Some(owner_agent_id.trim().to_owned()).filter(|s| !s.is_empty()),
            name_contains: Some(query.to_lowercase()).filter(|s| !s.is_empty()),
            // Only digit-bearing queries look at phone numbers, so "Li" does not match every phone.
            phone_contains: Some(query_digits).filter(|d| d.len() >= 3),
            archive: convert::archive_filter(archive_filter, &mut v),
            min_churn_risk: convert::min_churn_risk(min_churn_risk, &mut v),
        };
        let fingerprint = page_token::fingerprint(&filter);
        let cursor = if page_token.is_empty() {
            None
        } else {
            match PageToken::decode(&page_token, fingerprint) {
                Ok(token) => Some(token.cursor),
                Err(why) => {
                    v.push("page_token", why);
                    None
                }
            }
        };
        if !v.is_empty() {
            return Err(Error::InvalidArgument(v).into());
        }
        let mut rows = self
            .store
            .list(&filter, cursor.as_ref(), limit + 1)
            .await
            .map_err(Error::from)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => PageToken::after(last, fingerprint).encode(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListCustomersResponse {
            customers: rows.iter().map(customer_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::UpdateCustomerResponse>, Status> {
        let pb::UpdateCustomerRequest {
            customer,
            update_mask,
        } = request.into_inner();
        let Some(customer) = customer else {
            return Err(Error::invalid("customer", "is required").into());
        };
        require_id("customer.id", &customer.id)?;
        let id = customer.id.clone();
        let etag = customer.etag.clone();
        let paths = update_mask.map(|m| m.paths).unwrap_or_default();
        let patch = convert::patch(customer, &paths).map_err(Error::InvalidArgument)?;
        let updated = self
            .modify(&id, &etag, |c, now| c.apply(patch, now))
            .await
            .map_err(|e| match e {
                Error::InvalidArgument(v) => Error::InvalidArgument(v.prefixed("customer")),
                other => other,
            })?;
        tracing::info!(customer_id = %id, fields = ?paths, "customer updated");
        Ok(Response::new(pb::UpdateCustomerResponse {
            customer: Some(customer_to_pb(&updated)),
        }))
    }

    async fn change_customer_tier(
        &self,
        request: Request<pb::ChangeCustomerTierRequest>,
    ) -> Result<Response<pb::ChangeCustomerTierResponse>, Status> {
        let pb::ChangeCustomerTierRequest {
            customer_id,
            tier,
            reason,
            changed_by,
            etag,
        } = request.into_inner();
        let mut v = Violations::default();
        if customer_id.trim().is_empty() {
            v.push("customer_id", "must not be empty");
        }
        if etag.trim().is_empty() {
            v.push("etag", "must be the customer's current etag");
        }
        let tier = convert::tier_from_pb(tier, "tier", &mut v);
        let Some(tier) = tier.filter(|_| v.is_empty()) else {
            return Err(Error::InvalidArgument(v).into());
        };
        let updated = self
            .modify(&customer_id, &etag, |c, now| {
                c.change_tier(tier, &reason, &changed_by, now)
            })
            .await?;
        tracing::info!(customer_id = %customer_id, tier = tier.code(), "customer tier changed");
        Ok(Response::new(pb::ChangeCustomerTierResponse {
            customer: Some(customer_to_pb(&updated)),
        }))
    }

    async fn delete_customer(
        &self,
        request: Request<pb::DeleteCustomerRequest>,
    ) -> Result<Response<pb::DeleteCustomerResponse>, Status> {
        let pb::DeleteCustomerRequest { customer_id, etag } = request.into_inner();
        require_id("customer_id", &customer_id)?;
        let archived = self.modify(&customer_id, &etag, Customer::archive).await?;
        tracing::info!(customer_id = %customer_id, "customer archived");
        Ok(Response::new(pb::DeleteCustomerResponse {
            customer: Some(customer_to_pb(&archived)),
        }))
    }

    async fn undelete_customer(
        &self,
        request: Request<pb::UndeleteCustomerRequest>,
    ) -> Result<Response<pb::UndeleteCustomerResponse>, Status> {
        let pb::UndeleteCustomerRequest { customer_id, etag } = request.into_inner();
        require_id("customer_id", &customer_id)?;
        let restored = self.modify(&customer_id, &etag, Customer::restore).await?;
        tracing::info!(customer_id = %customer_id, "customer restored");
        Ok(Response::new(pb::UndeleteCustomerResponse {
            customer: Some(customer_to_pb(&restored)),
        }))
    }

    async fn record_churn_signal(
        &self,
        request: Request<pb::RecordChurnSignalRequest>,
    ) -> Result<Response<pb::RecordChurnSignalResponse>, Status> {
        let pb::RecordChurnSignalRequest {
            customer_id,
            signal,
        } = request.into_inner();
        require_id("customer_id", &customer_id)?;
        let Some(signal) = signal else {
            return Err(Error::invalid("signal", "is required").into());
        };
        let signal = convert::signal(signal, now_micros()).map_err(Error::InvalidArgument)?;
        // Signals come from systems without an etag: retry a few times when the file changes
        // between read and write.
        for _ in 0..5 {
            let mut customer = self.load(&customer_id).await?;
            let expected = customer.version;
            customer
                .record_churn_signal(signal.clone(), now_micros())
                .map_err(Error::from)?;
            match self
                .store
                .record_signal(&customer, expected, &signal)
                .await
                .map_err(Error::from)?
            {
                SignalRecorded::Recorded => {
                    tracing::info!(
                        customer_id = %customer_id,
                        signal_id = %signal.signal_id,
                        level = signal.level.rank(),
                        "churn signal recorded"
                    );
                    return Ok(Response::new(pb::RecordChurnSignalResponse {
                        customer: Some(customer_to_pb(&customer)),
                    }));
                }
                SignalRecorded::Duplicate => {
                    let current = self.load(&customer_id).await?;
                    return Ok(Response::new(pb::RecordChurnSignalResponse {
                        customer: Some(customer_to_pb(&current)),
                    }));
                }
                SignalRecorded::Stale => continue,
            }
        }
        Err(Status::aborted(
            "the customer kept changing; retry the call",
        ))
    }
}
