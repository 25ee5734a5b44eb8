//! Wiring: EcrRepository through the generic driver.

pub mod listing;
pub mod mapping;
pub mod sdk;

use crate::api::ecr_repository::EcrRepositoryStatus;
use std::collections::BTreeMap;
use std::time::Duration;

use self::mapping::{self as ecr, Change, ObservedRepository};
use crate::api::ecr_repository::EcrRepository;
use crate::aws::AwsClients;
use crate::aws::errors::required;
use crate::aws::tags::{TagService, TagTarget};
use crate::engine::{DeleteOutcome, Describe, Error, External};

managed_kind!(EcrRepository, EcrRepositoryStatus, identity = arn);

/// ECR-backed implementation of the driver's External contract.
pub struct EcrRepositories {
    /// Tags and policies recent observes read (or this process wrote): read on a schedule.
    reads: ecr::PolicyReads,
    /// One DescribeRepositories listing per registry and resync serves every repository.
    listing: listing::Listing,
}

impl EcrRepositories {
    /// `resync` is the drift-check period: the shared listing is taken at most once per period.
    pub fn new(resync: Duration) -> Self {
        Self {
            reads: ecr::PolicyReads::default(),
            listing: listing::Listing::new(resync),
        }
    }
}

/// The kind registry's start (`crate::kinds`).
pub fn start(shared: crate::engine::Shared) -> futures::future::BoxFuture<'static, ()> {
    let external = EcrRepositories::new(shared.settings.resync);
    crate::engine::start::<EcrRepository, _>(shared, external)
}

fn desired(obj: &EcrRepository) -> ecr::DesiredRepository {
    ecr::desired(&obj.spec, &kube::ResourceExt::name_any(obj))
}

impl External<EcrRepository> for EcrRepositories {
    type Desired = ecr::DesiredRepository;
    type Observed = ObservedRepository;
    type Changes = Vec<Change>;

    fn aws_name(&self, obj: &EcrRepository) -> String {
        format!("repository {}", desired(obj).repository_name)
    }

    async fn resolve(
        &self,
        obj: &EcrRepository,
        _aws: &AwsClients,
        owner_tags: &BTreeMap<String, String>,
    ) -> Result<ecr::DesiredRepository, Error> {
        let mut d = desired(obj);
        d.tags.extend(owner_tags.clone());
        Ok(d)
    }

    async fn observe(
        &self,
        obj: &EcrRepository,
        aws: &AwsClients,
        d: &ecr::DesiredRepository,
    ) -> Result<Option<ObservedRepository>, Error> {
        let fresh = crate::engine::Managed::refresh_requested(obj);
        let existed_by =
            crate::aws::listing::existed_by(&obj.metadata, std::time::SystemTime::now());
        let listed = match fresh {
            true => listing::Listed::Unknown,
            false => self.listing.find(aws, d, existed_by).await?,
        };
        let repo = match listed {
            listing::Listed::Found(repo) => *repo,
            listing::Listed::Absent => return Ok(None),
            listing::Listed::Unknown => match sdk::describe(&aws.ecr, d).await? {
                Some(repo) => {
                    self.listing.put(aws, d, &repo);
                    repo
                }
                None => return Ok(None),
            },
        };
        let arn = required(
            repo.repository_arn.clone(),
            "DescribeRepositories",
            "repositoryArn",
        )?;
        let due = ecr::extras_to_read(&self.reads, &arn, d, fresh);
        let read = if due.any() {
            sdk::extras_for(&aws.ecr, &repo, due).await?
        } else {
            ecr::RepositoryExtras::default()
        };
        let extras = ecr::extras_read(&self.reads, &arn, due, read);
        Ok(Some(ecr::observed_from(
            &repo,
            &extras.tags,
            extras.lifecycle_policy_text.as_deref(),
            extras.repository_policy_text.as_deref(),
        )?))
    }

    fn observed_tags(&self, observed: &ObservedRepository) -> BTreeMap<String, String> {
        observed.tags.clone()
    }

    fn tag_target(&self, observed: &ObservedRepository) -> Option<TagTarget> {
        Some(TagTarget {
            service: TagService::Ecr,
            arn: observed.arn.clone(),
        })
    }

    fn desired_tags(&self, d: &ecr::DesiredRepository) -> BTreeMap<String, String> {
        d.tags.clone()
    }

    async fn current_tags(
        &self,
        obj: &EcrRepository,
        aws: &AwsClients,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        let d = desired(obj);
        let Some(repo) = sdk::describe(&aws.ecr, &d).await? else {
            return Ok(None);
        };
        Ok(Some(
            ecr::observed_from(&repo, &sdk::extras(&aws.ecr, &repo).await?.tags, None, None)?.tags,
        ))
    }

    fn diff(&self, d: &ecr::DesiredRepository, observed: &ObservedRepository) -> Vec<Change> {
        ecr::diff(d, observed)
    }

    /// CreateRepository carries the tags, and its answer (with the tags and policies sent) is
    /// the observe right after: no read follows a create.
    async fn create(
        &self,
        _obj: &EcrRepository,
        aws: &AwsClients,
        d: &ecr::DesiredRepository,
    ) -> Result<String, Error> {
        let repo = match sdk::create(&aws.ecr, d).await {
            Ok(repo) => repo,
            Err(e) => {
                // It may exist now (a lost answer, a failed policy call, someone else's):
                // described by name until the next listing.
                self.listing.stale(aws, d);
                return Err(e.into());
            }
        };
        let arn = required(
            repo.repository_arn.clone(),
            "CreateRepository",
            "repositoryArn",
        )?;
        self.listing.put(aws, d, &repo);
        self.reads.created(&arn, d);
        Ok(arn)
    }

    async fn update(
        &self,
        _obj: &EcrRepository,
        aws: &AwsClients,
        d: &mut ecr::DesiredRepository,
        observed: &ObservedRepository,
        changes: &Vec<Change>,
    ) -> Result<(), Error> {
        // Apply everything that can be applied; report an impossible change (encryption) last.
        let (impossible, possible): (Vec<&Change>, Vec<&Change>) = changes
            .iter()
            .partition(|c| matches!(c, Change::EncryptionDiffers { .. }));
        for change in possible.into_iter().chain(impossible) {
            let applied = sdk::apply(&aws.ecr, d, change).await;
            match change {
                // Settings DescribeRepositories shows: described by name from now on.
                Change::ImageTagMutability | Change::ScanOnPush(_) => self.listing.stale(aws, d),
                Change::EncryptionDiffers { .. } => {}
                _ if applied.is_ok() => self.reads.wrote(&observed.arn, change),
                // Unknown after a failed write: read again.
                _ => self.reads.forget(&observed.arn),
            }
            applied?;
        }
        Ok(())
    }

    async fn delete(&self, obj: &EcrRepository, aws: &AwsClients) -> Result<DeleteOutcome, Error> {
        let d = desired(obj);
        self.listing.stale(aws, &d);
        Ok(match sdk::delete(&aws.ecr, &d).await? {
            sdk::Deleted::Yes => DeleteOutcome::Deleted,
            sdk::Deleted::NotEmpty(aws_message) => DeleteOutcome::Blocked(format!(
                "repository {} still holds images and spec.forceDelete is false, so it was not deleted \
                 (AWS: {aws_message}). To delete it with its images set spec.forceDelete: true; to keep \
                 the repository, set spec.deletionPolicy: Retain",
                d.repository_name,
            )),
        })
    }

    fn status_fields(&self, _obj: &EcrRepository, o: &ObservedRepository) -> EcrRepositoryStatus {
        EcrRepositoryStatus {
            arn: Some(o.arn.clone()),
            repository_uri: Some(o.uri.clone()),
            registry_id: Some(o.registry_id.clone()),
            created_at: o.created_at.clone(),
            ..Default::default()
        }
    }
}

impl Describe for Change {
    fn describe(&self) -> String {
        Change::describe(self)
    }
}
