//! Reconciliation: three snapshots in, the actions that make both sides
//! equal out.
//!
//! Pure by design: no I/O and no clock, so the sync rules can be checked by
//! table and property tests. Every decision is a three-way merge against the
//! pairs recorded at the last sync: a side that differs from that base has
//! changed, and its change wins; if both changed a flag, they agree (flags
//! are booleans). Nothing is deleted on one side unless the state shows the
//! message was synced before and it is gone from the other side.

use std::collections::HashMap;

use crate::model::{Flags, LocalMessage, Pair, RemoteMessage, Uid};

/// Which way changes may flow in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direction {
    /// Server changes reach the Maildir.
    pub pull: bool,
    /// Maildir changes reach the server.
    pub push: bool,
}

impl Direction {
    pub const BOTH: Direction = Direction {
        pull: true,
        push: true,
    };
    pub const PULL: Direction = Direction {
        pull: true,
        push: false,
    };
    pub const PUSH: Direction = Direction {
        pull: false,
        push: true,
    };
}

/// Flags of one synced message that differ on a side or from the base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    pub uid: Uid,
    pub local: LocalMessage,
    /// New flags for the local file, when they change.
    pub new_local_flags: Option<Flags>,
    /// Flags to add on the server.
    pub remote_add: Flags,
    /// Flags to remove on the server.
    pub remote_remove: Flags,
    /// The base to record once both stores hold the new flags.
    pub new_base: Flags,
}

/// Everything one folder's sync will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Server messages never synced: copy to the Maildir.
    pub downloads: Vec<RemoteMessage>,
    /// Local files never synced: APPEND to the server.
    pub uploads: Vec<LocalMessage>,
    pub flag_changes: Vec<FlagChange>,
    /// Expunged on the server since the last sync: unlink locally.
    pub local_deletions: Vec<(Uid, LocalMessage)>,
    /// Unlinked locally since the last sync: expunge these UIDs.
    pub remote_deletions: Vec<Uid>,
    /// Gone from both sides: drop the pair.
    pub forgotten: Vec<Uid>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.action_count() == 0 && self.forgotten.is_empty()
    }

    /// Number of actions that touch a store (progress bars count these).
    pub fn action_count(&self) -> usize {
        self.downloads.len()
            + self.uploads.len()
            + self.flag_changes.len()
            + self.local_deletions.len()
            + self.remote_deletions.len()
    }

    /// One line per action, for `--dry-run` and `-v`.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for d in &self.downloads {
            let size = d.size.map(|s| format!(", {s} bytes")).unwrap_or_default();
            lines.push(format!(
                "download uid {} (flags {:?}{size})",
                d.uid,
                d.flags.to_string()
            ));
        }
        for u in &self.uploads {
            lines.push(format!(
                "upload {}/{} (flags {:?})",
                subdir_name(u),
                u.name,
                u.flags.to_string()
            ));
        }
        for c in &self.flag_changes {
            let mut parts = Vec::new();
            if let Some(f) = c.new_local_flags {
                parts.push(format!(
                    "local {:?} -> {:?}",
                    c.local.flags.to_string(),
                    f.to_string()
                ));
            }
            if !c.remote_add.is_empty() || !c.remote_remove.is_empty() {
                parts.push(format!(
                    "server +{:?} -{:?}",
                    c.remote_add.to_string(),
                    c.remote_remove.to_string()
                ));
            }
            if parts.is_empty() {
                parts.push(format!("record {:?}", c.new_base.to_string()));
            }
            lines.push(format!("flags uid {}: {}", c.uid, parts.join(", ")));
        }
        for (uid, l) in &self.local_deletions {
            lines.push(format!(
                "delete local {}/{} (uid {uid} expunged on server)",
                subdir_name(l),
                l.name
            ));
        }
        for uid in &self.remote_deletions {
            lines.push(format!("delete remote uid {uid} (file removed locally)"));
        }
        for uid in &self.forgotten {
            lines.push(format!("forget uid {uid} (gone on both sides)"));
        }
        lines
    }
}

fn subdir_name(m: &LocalMessage) -> &'static str {
    match m.subdir {
        crate::model::Subdir::New => "new",
        crate::model::Subdir::Cur => "cur",
    }
}

/// Three-way merge of one message's flags. Returns the flags the local file
/// and the server should end with and the base to record.
pub fn merge_flags(
    base: Flags,
    local: Flags,
    remote: Flags,
    direction: Direction,
) -> (Flags, Flags, Flags) {
    let changed_locally = Flags::from_bits(local.bits() ^ base.bits());
    // Per flag: the local value where the local side changed it, else the remote value.
    let merged = local
        .intersection(changed_locally)
        .union(remote.difference(changed_locally));
    let new_local = if direction.pull { merged } else { local };
    let new_remote = if direction.push { merged } else { remote };
    // A flag both sides now agree on is synced; where they still differ (a
    // one-way run), the old base is kept so the pending change is not lost.
    let disagree = Flags::from_bits(new_local.bits() ^ new_remote.bits());
    let new_base = new_local
        .difference(disagree)
        .union(base.intersection(disagree));
    (new_local, new_remote, new_base)
}

/// Plans one folder's sync from the server's messages, the recorded pairs
/// and the Maildir's files.
pub fn plan(
    remote: &[RemoteMessage],
    pairs: &[Pair],
    local: &[LocalMessage],
    direction: Direction,
) -> Plan {
    let mut remote_by_uid: HashMap<Uid, &RemoteMessage> =
        remote.iter().map(|r| (r.uid, r)).collect();
    let mut local_by_base: HashMap<&str, &LocalMessage> = HashMap::with_capacity(local.len());
    for l in local {
        local_by_base.entry(l.base.as_str()).or_insert(l);
    }
    let mut plan = Plan::default();

    for pair in pairs {
        let l = local_by_base.remove(pair.local_base.as_str());
        let r = remote_by_uid.remove(&pair.uid);
        match (l, r) {
            (None, None) => plan.forgotten.push(pair.uid),
            (Some(l), None) => {
                if direction.pull {
                    plan.local_deletions.push((pair.uid, l.clone()));
                }
            }
            (None, Some(_)) => {
                if direction.push {
                    plan.remote_deletions.push(pair.uid);
                }
            }
            (Some(l), Some(r)) => {
                let (new_local, new_remote, new_base) =
                    merge_flags(pair.flags, l.flags, r.flags, direction);
                if new_local != l.flags || new_remote != r.flags || new_base != pair.flags {
                    plan.flag_changes.push(FlagChange {
                        uid: pair.uid,
                        local: l.clone(),
                        new_local_flags: (new_local != l.flags).then_some(new_local),
                        remote_add: new_remote.difference(r.flags),
                        remote_remove: r.flags.difference(new_remote),
                        new_base,
                    });
                }
            }
        }
    }

    if direction.pull {
        plan.downloads = remote
            .iter()
            .filter(|r| remote_by_uid.contains_key(&r.uid))
            .copied()
            .collect();
    }
    if direction.push {
        // Every local file not claimed by a pair, including a second file
        // with a base already seen (one copy is paired, the other is new).
        let mut claimed: HashMap<&str, bool> = HashMap::new();
        for p in pairs {
            claimed.insert(p.local_base.as_str(), false);
        }
        for l in local {
            match claimed.get_mut(l.base.as_str()) {
                Some(seen) if !*seen => *seen = true,
                _ => plan.uploads.push(l.clone()),
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Subdir;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn f(letters: &str) -> Flags {
        letters
            .chars()
            .map(|c| Flags::from_maildir_letter(c).unwrap())
            .fold(Flags::empty(), Flags::union)
    }

    fn local(base: &str, flags: Flags) -> LocalMessage {
        LocalMessage {
            subdir: Subdir::Cur,
            name: format!("{base}:2,{flags}"),
            base: base.to_string(),
            uid_hint: None,
            flags,
        }
    }

    fn remote(uid: u32, flags: Flags) -> RemoteMessage {
        RemoteMessage {
            uid: Uid(uid),
            flags,
            size: Some(100),
            modseq: None,
        }
    }

    fn pair(uid: u32, base: &str, flags: Flags) -> Pair {
        Pair {
            uid: Uid(uid),
            local_base: base.into(),
            flags,
        }
    }

    #[test]
    fn merge_table() {
        // (base, local, remote) -> (local', remote', base') for a two-way run
        let rows = [
            ("", "", "", "", "", ""),
            ("S", "S", "S", "S", "S", "S"),
            ("", "S", "", "S", "S", "S"),     // seen locally
            ("", "", "S", "S", "S", "S"),     // seen on server
            ("S", "", "S", "", "", ""),       // unseen locally
            ("S", "FS", "", "F", "F", "F"),   // flagged locally, unseen remotely
            ("", "S", "F", "FS", "FS", "FS"), // different flags on each side
            ("F", "", "", "", "", ""),        // both unflagged
            ("S", "RS", "PS", "PRS", "PRS", "PRS"),
        ];
        for (b, l, r, nl, nr, nb) in rows {
            assert_eq!(
                merge_flags(f(b), f(l), f(r), Direction::BOTH),
                (f(nl), f(nr), f(nb)),
                "base {b} local {l} remote {r}"
            );
        }
    }

    #[test]
    fn one_way_runs_keep_the_other_sides_change_pending() {
        // Local change, pull only: nothing moves, base stays.
        assert_eq!(
            merge_flags(f(""), f("S"), f(""), Direction::PULL),
            (f("S"), f(""), f(""))
        );
        // Remote change, pull only: local follows.
        assert_eq!(
            merge_flags(f(""), f(""), f("F"), Direction::PULL),
            (f("F"), f("F"), f("F"))
        );
        // Both changed different flags, push only: server gets both, local keeps its own.
        assert_eq!(
            merge_flags(f(""), f("S"), f("F"), Direction::PUSH),
            (f("S"), f("FS"), f("S"))
        );
    }

    #[test]
    fn new_messages_go_to_the_other_side() {
        let p = plan(
            &[remote(1, f("S"))],
            &[],
            &[local("x", f(""))],
            Direction::BOTH,
        );
        assert_eq!(p.downloads, vec![remote(1, f("S"))]);
        assert_eq!(p.uploads, vec![local("x", f(""))]);
        assert_eq!(p.action_count(), 2);
        let pull = plan(
            &[remote(1, f("S"))],
            &[],
            &[local("x", f(""))],
            Direction::PULL,
        );
        assert!(pull.uploads.is_empty() && pull.downloads.len() == 1);
        let push = plan(
            &[remote(1, f("S"))],
            &[],
            &[local("x", f(""))],
            Direction::PUSH,
        );
        assert!(push.downloads.is_empty() && push.uploads.len() == 1);
    }

    #[test]
    fn deletions_follow_the_base() {
        let pairs = [
            pair(1, "a", f("")),
            pair(2, "b", f("")),
            pair(3, "c", f("")),
        ];
        // a: gone on the server; b: gone locally; c: gone on both.
        let p = plan(
            &[remote(2, f(""))],
            &pairs,
            &[local("a", f(""))],
            Direction::BOTH,
        );
        assert_eq!(p.local_deletions, vec![(Uid(1), local("a", f("")))]);
        assert_eq!(p.remote_deletions, vec![Uid(2)]);
        assert_eq!(p.forgotten, vec![Uid(3)]);
        assert!(p.downloads.is_empty() && p.uploads.is_empty());
        // A pull-only run does not expunge, a push-only run does not unlink.
        let pull = plan(
            &[remote(2, f(""))],
            &pairs,
            &[local("a", f(""))],
            Direction::PULL,
        );
        assert!(pull.remote_deletions.is_empty() && pull.local_deletions.len() == 1);
        let push = plan(
            &[remote(2, f(""))],
            &pairs,
            &[local("a", f(""))],
            Direction::PUSH,
        );
        assert!(push.local_deletions.is_empty() && push.remote_deletions == vec![Uid(2)]);
    }

    #[test]
    fn unchanged_folder_plans_nothing() {
        let pairs = [pair(1, "a", f("S")), pair(2, "b", f("F"))];
        let p = plan(
            &[remote(1, f("S")), remote(2, f("F"))],
            &pairs,
            &[local("a", f("S")), local("b", f("F"))],
            Direction::BOTH,
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn a_uid_hint_alone_does_not_pair() {
        // A file moved in from another folder keeps its ,U=; with no pair in
        // this folder it is a new local message, and the server's UID 5 is new too.
        let mut moved = local("m,U=5", f("S"));
        moved.uid_hint = Some(Uid(5));
        let p = plan(&[remote(5, f(""))], &[], &[moved.clone()], Direction::BOTH);
        assert_eq!(p.uploads, vec![moved]);
        assert_eq!(p.downloads.len(), 1);
    }

    #[test]
    fn duplicate_base_is_uploaded_once_as_new() {
        let a = local("a", f("S"));
        let mut copy = local("a", f(""));
        copy.subdir = Subdir::New;
        copy.name = "a".into();
        let p = plan(
            &[remote(1, f("S"))],
            &[pair(1, "a", f("S"))],
            &[a, copy.clone()],
            Direction::BOTH,
        );
        assert_eq!(p.uploads, vec![copy]);
        assert!(p.flag_changes.is_empty());
    }

    /// A model of both stores, used to check plans by applying them.
    #[derive(Debug, Clone, Default)]
    struct World {
        /// message identity -> flags
        remote: BTreeMap<Uid, Flags>,
        local: BTreeMap<String, Flags>,
        pairs: Vec<Pair>,
        next_uid: u32,
    }

    impl World {
        fn remote_msgs(&self) -> Vec<RemoteMessage> {
            self.remote
                .iter()
                .map(|(&u, &fl)| remote(u.0, fl))
                .collect()
        }
        fn local_msgs(&self) -> Vec<LocalMessage> {
            self.local.iter().map(|(b, &fl)| local(b, fl)).collect()
        }
        fn plan(&self, d: Direction) -> Plan {
            plan(&self.remote_msgs(), &self.pairs, &self.local_msgs(), d)
        }
        fn apply(&mut self, p: &Plan) {
            for d in &p.downloads {
                let base = format!("d{}", d.uid);
                self.local.insert(base.clone(), d.flags);
                self.pairs.push(pair(d.uid.0, &base, d.flags));
            }
            for u in &p.uploads {
                self.next_uid += 1;
                self.remote.insert(Uid(self.next_uid), u.flags);
                self.pairs.push(pair(self.next_uid, &u.base, u.flags));
            }
            for c in &p.flag_changes {
                if let Some(nf) = c.new_local_flags {
                    self.local.insert(c.local.base.clone(), nf);
                }
                let r = self.remote.get_mut(&c.uid).unwrap();
                *r = r.union(c.remote_add).difference(c.remote_remove);
                self.pairs
                    .iter_mut()
                    .find(|p| p.uid == c.uid)
                    .unwrap()
                    .flags = c.new_base;
            }
            for (uid, l) in &p.local_deletions {
                self.local.remove(&l.base);
                self.pairs.retain(|p| p.uid != *uid);
            }
            for uid in &p.remote_deletions {
                self.remote.remove(uid);
                self.pairs.retain(|p| p.uid != *uid);
            }
            for uid in &p.forgotten {
                self.pairs.retain(|p| p.uid != *uid);
            }
        }
    }

    /// Keyword bits merge like any flag: per bit, the side that changed wins.
    #[test]
    fn keywords_merge_like_flags() {
        let (a, b, c) = (Flags::keyword(0), Flags::keyword(1), Flags::keyword(25));
        let base = Flags::SEEN.union(a);
        // Local adds b, the server removes a and adds c.
        let here = base.union(b);
        let there = Flags::SEEN.union(c);
        let (new_local, new_remote, new_base) = merge_flags(base, here, there, Direction::BOTH);
        let expected = Flags::SEEN.union(b).union(c);
        assert_eq!(
            (new_local, new_remote, new_base),
            (expected, expected, expected)
        );
        // Both add the same keyword: no conflict.
        let (l, r, _) = merge_flags(Flags::empty(), a, a, Direction::BOTH);
        assert_eq!((l, r), (a, a));
        // A pull-only run leaves a local keyword pending in the base.
        let (l, r, nb) = merge_flags(Flags::empty(), a, Flags::empty(), Direction::PULL);
        assert_eq!((l, r, nb), (a, Flags::empty(), Flags::empty()));
        // The plan turns them into a rename and a store.
        let p = plan(
            &[remote(1, Flags::SEEN.union(c))],
            &[pair(1, "x,U=1", base)],
            &[local("x,U=1", base.union(b))],
            Direction::BOTH,
        );
        assert_eq!(p.flag_changes.len(), 1);
        let change = &p.flag_changes[0];
        assert_eq!(change.new_local_flags, Some(expected));
        assert_eq!(change.remote_add, b);
        assert_eq!(change.remote_remove, Flags::empty());
        assert_eq!(change.new_base, expected);
    }

    #[derive(Debug, Clone)]
    enum Change {
        RemoteFlags(usize, u32),
        LocalFlags(usize, u32),
        RemoteDelete(usize),
        LocalDelete(usize),
        RemoteNew(u32),
        LocalNew(u32),
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (any::<usize>(), any::<u32>()).prop_map(|(i, b)| Change::RemoteFlags(i, b)),
            (any::<usize>(), any::<u32>()).prop_map(|(i, b)| Change::LocalFlags(i, b)),
            any::<usize>().prop_map(Change::RemoteDelete),
            any::<usize>().prop_map(Change::LocalDelete),
            (any::<u32>()).prop_map(Change::RemoteNew),
            (any::<u32>()).prop_map(Change::LocalNew),
        ]
    }

    fn world_after(initial: &[u32], changes: &[Change]) -> World {
        let mut w = World::default();
        for (i, &b) in initial.iter().enumerate() {
            let uid = i as u32 + 1;
            let base = format!("s{uid}");
            w.remote.insert(Uid(uid), Flags::from_bits(b));
            w.local.insert(base.clone(), Flags::from_bits(b));
            w.pairs.push(pair(uid, &base, Flags::from_bits(b)));
            w.next_uid = uid;
        }
        let mut n = 0;
        for c in changes {
            let rk: Vec<Uid> = w.remote.keys().copied().collect();
            let lk: Vec<String> = w.local.keys().cloned().collect();
            match *c {
                Change::RemoteFlags(i, b) if !rk.is_empty() => {
                    w.remote.insert(rk[i % rk.len()], Flags::from_bits(b));
                }
                Change::LocalFlags(i, b) if !lk.is_empty() => {
                    w.local
                        .insert(lk[i % lk.len()].clone(), Flags::from_bits(b));
                }
                Change::RemoteDelete(i) if !rk.is_empty() => {
                    w.remote.remove(&rk[i % rk.len()]);
                }
                Change::LocalDelete(i) if !lk.is_empty() => {
                    w.local.remove(&lk[i % lk.len()]);
                }
                Change::RemoteNew(b) => {
                    w.next_uid += 1;
                    w.remote.insert(Uid(w.next_uid), Flags::from_bits(b));
                }
                Change::LocalNew(b) => {
                    n += 1;
                    w.local.insert(format!("n{n}"), Flags::from_bits(b));
                }
                _ => {}
            }
        }
        w
    }

    proptest! {
        #[test]
        fn a_two_way_plan_makes_both_sides_equal_and_is_then_empty(
            initial in prop::collection::vec(any::<u32>(), 0..12),
            changes in prop::collection::vec(change(), 0..20),
        ) {
            let mut w = world_after(&initial, &changes);
            let before = w.clone();
            let p = w.plan(Direction::BOTH);
            w.apply(&p);
            // Both sides hold the same messages with the same flags, every one paired.
            let mut remote_flags: Vec<Flags> = w.remote.values().copied().collect();
            let mut local_flags: Vec<Flags> = w.local.values().copied().collect();
            remote_flags.sort();
            local_flags.sort();
            prop_assert_eq!(&remote_flags, &local_flags);
            prop_assert_eq!(w.pairs.len(), w.remote.len());
            for pr in &w.pairs {
                prop_assert_eq!(w.remote.get(&pr.uid), Some(&pr.flags));
                prop_assert_eq!(w.local.get(&pr.local_base), Some(&pr.flags));
            }
            prop_assert!(w.plan(Direction::BOTH).is_empty());

            // Nothing is deleted that was not paired before.
            let paired_uids: BTreeSet<Uid> = before.pairs.iter().map(|p| p.uid).collect();
            let paired_bases: BTreeSet<&str> = before.pairs.iter().map(|p| p.local_base.as_str()).collect();
            for uid in &p.remote_deletions { prop_assert!(paired_uids.contains(uid)); }
            for (_, l) in &p.local_deletions { prop_assert!(paired_bases.contains(l.base.as_str())); }
            // Messages new on either side all survive.
            for uid in before.remote.keys().filter(|u| !paired_uids.contains(u)) {
                prop_assert!(w.remote.contains_key(uid));
            }
            for b in before.local.keys().filter(|b| !paired_bases.contains(b.as_str())) {
                prop_assert!(w.local.contains_key(b));
            }
        }

        #[test]
        fn one_way_runs_then_a_two_way_run_converge(
            initial in prop::collection::vec(any::<u32>(), 0..10),
            changes in prop::collection::vec(change(), 0..16),
            pull_first in any::<bool>(),
        ) {
            let mut w = world_after(&initial, &changes);
            let first = if pull_first { Direction::PULL } else { Direction::PUSH };
            let p = w.plan(first);
            if first.pull {
                prop_assert!(p.uploads.is_empty() && p.remote_deletions.is_empty());
                prop_assert!(p.flag_changes.iter().all(|c| c.remote_add.is_empty() && c.remote_remove.is_empty()));
            } else {
                prop_assert!(p.downloads.is_empty() && p.local_deletions.is_empty());
                prop_assert!(p.flag_changes.iter().all(|c| c.new_local_flags.is_none()));
            }
            w.apply(&p);
            // The one-way run never needs repeating...
            prop_assert!(w.plan(first).action_count() == 0);
            // ...and a two-way run afterwards converges.
            let p2 = w.plan(Direction::BOTH);
            w.apply(&p2);
            let mut r: Vec<Flags> = w.remote.values().copied().collect();
            let mut l: Vec<Flags> = w.local.values().copied().collect();
            r.sort();
            l.sort();
            prop_assert_eq!(r, l);
            prop_assert!(w.plan(Direction::BOTH).is_empty());
        }
    }
}
