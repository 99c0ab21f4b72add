//! The per-host connection cap (`max_connections`), shared by every account
//! this process syncs on one host: providers count connections per user or
//! per address and refuse the ones beyond their limit ("too many
//! simultaneous connections"), and accounts synced at once add up.
//!
//! Process-wide on purpose: the accounts of one `sync` run in threads of
//! their own, and what they share is the host, not anything they pass
//! each other. An account waits for its first connection; further ones are
//! taken only when free, so no account waits for another's workers, and
//! every account holding a slot can finish.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, OnceLock};

use crate::config::Account;

/// Connections open per host (`host:port`, lowercased).
struct Registry {
    open: Mutex<HashMap<String, usize>>,
    freed: Condvar,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        open: Mutex::new(HashMap::new()),
        freed: Condvar::new(),
    })
}

/// One connection's place under its host's cap; dropping it frees it.
#[derive(Debug)]
pub struct HostSlot {
    /// `None` when the account has no cap: nothing to count.
    host: Option<String>,
}

fn key(account: &Account) -> String {
    format!("{}:{}", account.host.to_ascii_lowercase(), account.port)
}

impl HostSlot {
    /// Waits for a free slot on the account's host.
    pub fn wait(account: &Account) -> HostSlot {
        let Some(cap) = account.max_connections else {
            return HostSlot { host: None };
        };
        let host = key(account);
        let registry = registry();
        let mut open = registry.open.lock().expect("host slots");
        while *open.get(&host).unwrap_or(&0) >= cap {
            open = registry.freed.wait(open).expect("host slots");
        }
        *open.entry(host.clone()).or_default() += 1;
        HostSlot { host: Some(host) }
    }

    /// A slot if one is free now.
    pub fn try_take(account: &Account) -> Option<HostSlot> {
        let Some(cap) = account.max_connections else {
            return Some(HostSlot { host: None });
        };
        let host = key(account);
        let mut open = registry().open.lock().expect("host slots");
        let count = open.entry(host.clone()).or_default();
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(HostSlot { host: Some(host) })
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let Some(host) = self.host.take() else {
            return;
        };
        let registry = registry();
        let mut open = registry.open.lock().expect("host slots");
        if let Some(count) = open.get_mut(&host) {
            *count = count.saturating_sub(1);
        }
        registry.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn account(host: &str, cap: Option<usize>) -> Account {
        let text = format!(
            "[accounts.a]\nhost = \"{host}\"\nuser = \"u\"\npassword_command = \"true\"\n\
             maildir = \"/m\"\n"
        );
        let env = crate::config::Environment {
            home: Some("/home/u".into()),
            ..Default::default()
        };
        let mut a = crate::config::Config::parse(&text, &env)
            .unwrap()
            .accounts
            .remove(0);
        a.max_connections = cap;
        a
    }

    #[test]
    fn a_host_never_has_more_than_its_cap_open() {
        let a = account("cap-test.example", Some(2));
        let open = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let _slot = HostSlot::wait(&a);
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn a_further_slot_is_taken_only_when_free() {
        let a = account("try-test.example", Some(1));
        let first = HostSlot::try_take(&a).expect("free");
        assert!(HostSlot::try_take(&a).is_none());
        // Another host, or the same host on another port, counts apart.
        assert!(HostSlot::try_take(&account("other.example", Some(1))).is_some());
        drop(first);
        assert!(HostSlot::try_take(&a).is_some());
        // No cap: always.
        let free = account("try-test.example", None);
        let slots: Vec<_> = (0..100).filter_map(|_| HostSlot::try_take(&free)).collect();
        assert_eq!(slots.len(), 100);
    }
}
