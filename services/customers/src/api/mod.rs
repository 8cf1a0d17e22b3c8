//! The gRPC API of the customers service: each method validates its request, makes one call
//! to the use cases in `crate::app` and converts the answer. Only this module speaks tonic.

mod convert;
mod limits;
pub mod roles;

use csops_proto::customers::v1 as pb;
use csops_proto::customers::v1::customers_service_server::CustomersService;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters, PageTokens};
use csops_runtime::time::now;
use csops_runtime::{Error, Violations};
use tonic::{Request, Response, Status};

use crate::app::Customers;
use crate::domain::{digits, Customer};
use crate::store::{ArchiveFilter, ListFilter};
use convert::customer_to_pb;

const DEFAULT_PAGE_SIZE: u32 = 50;

/// Implementation of `csops.customers.v1.CustomersService`.
#[derive(Debug, Clone)]
pub struct CustomersApi {
    app: Customers,
    page_tokens: PageTokens,
}

impl CustomersApi {
    /// Serves the use cases of `app`; page tokens are signed by `page_tokens`.
    pub fn new(app: Customers, page_tokens: PageTokens) -> Self {
        Self { app, page_tokens }
    }
}

fn valid(v: Violations) -> Result<(), Error> {
    v.into_result(()).map_err(Error::InvalidArgument)
}

fn reply<T>(customer: &Customer, wrap: impl FnOnce(Option<pb::Customer>) -> T) -> Response<T> {
    Response::new(wrap(Some(shown(customer))))
}

/// The customer as the caller may see it: contact values masked for a caller who does not
/// need them (ops), whole for everyone else (and when authentication is off).
fn shown(customer: &Customer) -> pb::Customer {
    let mut out = customer_to_pb(customer);
    if csops_runtime::auth::caller().is_some_and(|c| c.masks_personal_data()) {
        convert::mask_contacts(&mut out);
    }
    out
}

/// The canonical filters of a ListCustomers page, for its page token.
fn list_filters(filter: &ListFilter) -> Filters {
    let ListFilter {
        tier,
        region,
        key_account,
        owner_agent_id,
        name_contains,
        phone_contains,
        archive,
        min_churn_risk,
    } = filter;
    Filters::new("ListCustomers")
        .with("tier", tier.map_or("", |t| t.code()))
        .with("region", region.map_or("", |r| r.code()))
        .with(
            "key_account",
            key_account.map_or("", |k| if k { "yes" } else { "no" }),
        )
        .with("owner_agent_id", owner_agent_id.as_deref().unwrap_or(""))
        .with("name_contains", name_contains.as_deref().unwrap_or(""))
        .with("phone_contains", phone_contains.as_deref().unwrap_or(""))
        .with(
            "archive",
            match archive {
                ArchiveFilter::Active => "active",
                ArchiveFilter::Archived => "archived",
                ArchiveFilter::All => "all",
            },
        )
        .with(
            "min_churn_risk",
            min_churn_risk.map_or(0, |level| level.rank()),
        )
}

#[tonic::async_trait]
impl CustomersService for CustomersApi {
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Result<Response<pb::CreateCustomerResponse>, Status> {
        let request = request.into_inner();
        limits::check(&request)?;
        let key = Key::new("create", request.request_id.trim(), &request);
        let pb::CreateCustomerRequest {
            customer,
            request_id,
            actor_id,
        } = request;
        let mut v = Violations::default();
        v.require_request_id(&request_id);
        let input = match customer.map(convert::new_customer) {
            None => {
                v.push("customer", "is required");
                None
            }
            Some(Ok(input)) => Some(input),
            Some(Err(more)) => {
                v.extend(more);
                None
            }
        };
        let Some(input) = input.filter(|_| v.is_empty()) else {
            return Err(Error::InvalidArgument(v).into());
        };
        // The verified caller when authentication is on; the request's actor_id only without.
        let caller = csops_runtime::auth::caller().map(|c| c.subject);
        let actor = match caller.as_deref().unwrap_or(actor_id.trim()) {
            "" => "unknown",
            actor => actor,
        };
        let customer = self.app.create(input, &key, actor).await?;
        Ok(reply(&customer, |customer| pb::CreateCustomerResponse {
            customer,
        }))
    }

    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::GetCustomerResponse>, Status> {
        let request = request.into_inner();
        limits::check(&request)?;
        let pb::GetCustomerRequest { customer_id } = request;
        let mut v = Violations::default();
        v.require_id("customer_id", &customer_id);
        valid(v)?;
        let customer = self.app.get(&customer_id).await?;
        Ok(reply(&customer, |customer| pb::GetCustomerResponse {
            customer,
        }))
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let request = request.into_inner();
        limits::check(&request)?;
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
        } = request;
        let mut v = Violations::default();
        let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
        let query = query.trim();
        let query_digits = digits(query);
        let filter = ListFilter {
            tier: convert::optional_tier(tier, "tier", &mut v),
            region: convert::optional_region(region, "region", &mut v),
            key_account,
            owner_agent_id: csops_runtime::auth::listing_owner(
                Some(owner_agent_id.trim().to_owned()).filter(|s| !s.is_empty()),
            )
            .map_err(Error::PermissionDenied)?,
            name_contains: Some(query.to_lowercase()).filter(|s| !s.is_empty()),
            // Only digit-bearing queries look at phone numbers, so "Li" does not match every phone.
            phone_contains: Some(query_digits).filter(|d| d.len() >= 3),
            archive: convert::archive_filter(archive_filter, &mut v),
            min_churn_risk: convert::min_churn_risk(min_churn_risk, &mut v),
        };
        let filters = list_filters(&filter);
        let after = self.page_tokens.read(&page_token, &filters, &mut v);
        valid(v)?;
        let rows = self.app.list(&filter, after.as_ref(), limit + 1).await?;
        let (rows, next_page_token) = self.page_tokens.page(rows, limit, &filters, |last| Cursor {
            key: last.create_time.timestamp_micros(),
            id: last.id.clone(),
        });
        Ok(Response::new(pb::ListCustomersResponse {
            customers: rows.iter().map(shown).collect(),
            next_page_token,
        }))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::UpdateCustomerResponse>, Status> {
        let request = request.into_inner();
        limits::check(&request)?;
        let pb::UpdateCustomerRequest {
            customer,
            update_mask,
        } = request;
        let Some(customer) = customer else {
            return Err(Error::invalid("customer", "is required").into());
        };
        let mut v = Violations::default();
        v.require_id("customer.id", &customer.id);
        if customer.etag.trim().is_empty() {
            v.push(
                "customer.etag",
                "is required: send the etag of the customer you read",
            );
        }
        valid(v)?;
        let id = customer.id.clone();
        let etag = customer.etag.clone();
        let paths = update_mask.map(|m| m.paths).unwrap_or_default();
        let patch = convert::patch(customer, &paths).map_err(Error::InvalidArgument)?;
        let updated = self
            .app
            .change(&id, &etag, |c, now| c.apply(patch.clone(), now))
            .await
            .map_err(|e| e.in_field("customer"))?;
        tracing::info!(customer_id = %id, fields = ?paths, "customer updated");
        Ok(reply(&updated, |customer| pb::UpdateCustomerResponse {
            customer,
        }))
    }

    async fn change_customer_tier(
        &self,
        request: Request<pb::ChangeCustomerTierRequest>,
    ) -> Result<Response<pb::ChangeCustomerTierResponse>, Status> {
        let request = request.into_inner();
        limits::check(&request)?;
        let pb::ChangeCustomerTierRequest {
            customer_id,
            tier,
            reason,
            changed_by,
            etag,
        } = request;
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
        let changed_by = csops_runtime::auth::caller().map_or(changed_by, |c| c.subject);
        let updated = self
            .app
            .change(&customer_id, &etag, |c, now| {
                c.change_tier(tier, &reason, &changed_by, now)
            })
            .await?;
        tracing::info!(customer_id = %customer_id, tier = tier.code(), "customer tier changed");
        Ok(reply(&updated, |customer| pb::ChangeCustomerTierResponse {
            customer,
        }))
    }

    async fn delete_customer(
        &self,
        request: Request<pb::DeleteCustomerRequest>,
    ) -> Result<Response<pb::DeleteCustomerResponse>, Status> {
        let request = request.into_inner();
        limits::check(&request)?;
        let pb::DeleteCustomerRequest { customer_id, etag } = request;
        let mut v = Violations::default();
        v.require_id("customer_id", &customer_id);
        valid(v)?;
        let archived = self
            .app
            .change(&customer_id, &etag, Customer::archive)
            .await?;
        tracing::info!(customer_id = %customer_id, "customer archived");
        Ok(reply(&archived, |customer| pb::DeleteCustomerResponse {
            customer,
        }))
    }

    async fn undelete_customer(
        &self,
        request: Request<pb::UndeleteCustomerRequest>,
    ) -> Result<Response<pb::UndeleteCustomerResponse>, Status> {
        let request = request.into_inner();
        limits::check(&request)?;
        let pb::UndeleteCustomerRequest { customer_id, etag } = request;
        let mut v = Violations::default();
        v.require_id("customer_id", &customer_id);
        valid(v)?;
        let restored = self
            .app
            .change(&customer_id, &etag, Customer::restore)
            .await?;
        tracing::info!(customer_id = %customer_id, "customer restored");
        Ok(reply(&restored, |customer| pb::UndeleteCustomerResponse {
            customer,
        }))
    }

    async fn record_churn_signal(
        &self,
        request: Request<pb::RecordChurnSignalRequest>,
    ) -> Result<Response<pb::RecordChurnSignalResponse>, Status> {
        let request = request.into_inner();
        limits::check(&request)?;
        let pb::RecordChurnSignalRequest {
            customer_id,
            signal,
        } = request;
        let mut v = Violations::default();
        v.require_id("customer_id", &customer_id);
        valid(v)?;
        let Some(signal) = signal else {
            return Err(Error::invalid("signal", "is required").into());
        };
        let signal = convert::signal(signal, now()).map_err(Error::InvalidArgument)?;
        let customer = self.app.record_churn_signal(&customer_id, signal).await?;
        Ok(reply(&customer, |customer| pb::RecordChurnSignalResponse {
            customer,
        }))
    }
}
