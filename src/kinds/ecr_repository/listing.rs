//! The shared repository listing: one paginated DescribeRepositories without names (1,000
//! repositories per call) per AWS target, registry and resync period answers "does it exist,
//! and how is it configured" for every EcrRepository, instead of one DescribeRepositories per
//! repository and resync, and instead of a "not found" probe before a create (see
//! [`crate::aws::listing::absence`]). A registry with more than [`MAX_PAGES`] pages falls back
//! to one DescribeRepositories per repository. A repository this process created or changed
//! is kept as its create answer, or described again.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_ecr::types::Repository;

use super::mapping::DesiredRepository;
use super::sdk;
use crate::aws::listing::{Absence, absence};
use crate::aws::{AwsClients, AwsError};

/// Pages (of 1,000 repositories) one listing may take.
pub const MAX_PAGES: usize = 5;

/// What the listing says about one repository name.
#[derive(Debug)]
pub enum Listed {
    Found(Box<Repository>),
    Absent,
    /// The listing cannot tell: describe the repository by name.
    Unknown,
}

#[derive(Default)]
struct Snapshot {
    at: Option<Instant>,
    taken: Option<SystemTime>,
    pages: usize,
    complete: bool,
    repos: HashMap<String, Repository>,
    /// Changed by this process since the listing: described by name until the next listing.
    stale: HashSet<String>,
}

/// Listings by (AWS target, registry id).
pub struct Listing {
    window: Duration,
    snapshots: Mutex<HashMap<(String, String), Snapshot>>,
    refreshing: tokio::sync::Mutex<()>,
}

fn key(aws: &AwsClients, d: &DesiredRepository) -> (String, String) {
    (aws.target(), d.registry_id.clone().unwrap_or_default())
}

impl Listing {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            snapshots: Mutex::new(HashMap::new()),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn snapshots(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Snapshot>> {
        self.snapshots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the current listing says (`None`: there is none, or it is older than a window or
    /// than `after`).
    fn look(&self, k: &(String, String), name: &str, after: Option<SystemTime>) -> Option<Listed> {
        let snapshots = self.snapshots();
        let s = snapshots.get(k)?;
        if s.at?.elapsed() >= self.window || after.is_some_and(|a| s.taken.is_none_or(|t| t < a)) {
            return None;
        }
        if !s.complete || s.stale.contains(name) {
            return Some(Listed::Unknown);
        }
        Some(match (s.repos.get(name), s.taken) {
            (Some(r), _) => Listed::Found(Box::new(r.clone())),
            (None, Some(_)) => Listed::Absent,
            (None, None) => Listed::Unknown,
        })
    }

    async fn relist(
        &self,
        aws: &AwsClients,
        d: &DesiredRepository,
        k: &(String, String),
    ) -> Result<(), AwsError> {
        let at = Instant::now();
        let taken = SystemTime::now();
        let listed = sdk::list(&aws.ecr, d.registry_id.as_deref(), MAX_PAGES).await?;
        let snapshot = match listed {
            Some((repos, pages)) => Snapshot {
                at: Some(at),
                taken: Some(taken),
                pages,
                complete: true,
                repos: repos
                    .into_iter()
                    .filter_map(|r| Some((r.repository_name.clone()?, r)))
                    .collect(),
                stale: HashSet::new(),
            },
            None => Snapshot {
                at: Some(at),
                taken: Some(taken),
                pages: MAX_PAGES,
                ..Snapshot::default()
            },
        };
        self.snapshots().insert(k.clone(), snapshot);
        Ok(())
    }

    /// The repository `d` names, per the listing; a name the listing lacks is absent only in a
    /// listing taken after `existed_by` ([`crate::aws::listing::existed_by`]).
    pub async fn find(
        &self,
        aws: &AwsClients,
        d: &DesiredRepository,
        existed_by: Option<SystemTime>,
    ) -> Result<Listed, AwsError> {
        let k = key(aws, d);
        let name = d.repository_name.as_str();
        let mut after = None;
        loop {
            if self.look(&k, name, after).is_none() {
                let _one = self.refreshing.lock().await;
                if self.look(&k, name, after).is_none() {
                    self.relist(aws, d, &k).await?;
                }
            }
            let Some(listed) = self.look(&k, name, None) else {
                return Ok(Listed::Unknown);
            };
            let Listed::Absent = listed else {
                return Ok(listed);
            };
            let (taken, pages) = {
                let snapshots = self.snapshots();
                let s = snapshots.get(&k);
                (s.and_then(|s| s.taken), s.map_or(MAX_PAGES, |s| s.pages))
            };
            let Some(taken) = taken else {
                return Ok(Listed::Unknown);
            };
            match (absence(taken, pages, existed_by), existed_by) {
                (Absence::Absent, _) => return Ok(Listed::Absent),
                (Absence::Relist, Some(e)) if after.is_none() => after = Some(e),
                _ => return Ok(Listed::Unknown),
            }
        }
    }

    /// A repository as this process created or described it.
    pub fn put(&self, aws: &AwsClients, d: &DesiredRepository, repo: &Repository) {
        if let Some(s) = self.snapshots().get_mut(&key(aws, d)) {
            s.stale.remove(&d.repository_name);
            s.repos.insert(d.repository_name.clone(), repo.clone());
        }
    }

    /// Changed or deleted by this process: described by name until the next listing.
    pub fn stale(&self, aws: &AwsClients, d: &DesiredRepository) {
        if let Some(s) = self.snapshots().get_mut(&key(aws, d)) {
            s.repos.remove(&d.repository_name);
            s.stale.insert(d.repository_name.clone());
        }
    }
}
