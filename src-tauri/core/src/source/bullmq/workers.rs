//! Workers, from `CLIENT LIST`: BullMQ names each worker's blocking connection
//! `<prefix>:<base64(queue)>[:w:<name>]`, so the connection list shows who is there.
//! Some servers forbid `CLIENT LIST` (managed services, restrictive ACLs); then the
//! source notes it once and carries on without workers.

use std::collections::BTreeMap;

use super::keys::QueueKeys;
use crate::model::{EntityKind, Event, Status};

/// One line of `CLIENT LIST`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientEntry {
    pub id: String,
    pub addr: String,
    pub name: String,
    pub age_secs: u64,
}

pub fn parse_client_list(text: &str) -> Vec<ClientEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut c = ClientEntry::default();
            for kv in line.split(' ') {
                if let Some((k, v)) = kv.split_once('=') {
                    match k {
                        "id" => c.id = v.to_string(),
                        "addr" => c.addr = v.to_string(),
                        "name" => c.name = v.to_string(),
                        "age" => c.age_secs = v.parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            c
        })
        .collect()
}

/// Remembers which workers were seen, so only changes become events.
#[derive(Debug, Default)]
pub struct WorkerTracker {
    /// entity -> last status stored
    known: BTreeMap<String, Status>,
}

impl WorkerTracker {
    /// Events for workers that appeared, changed or went away. A worker's status is
    /// the queue's: `busy` while the queue has active jobs, else `idle` (BullMQ's
    /// connection list does not say which worker holds which job).
    pub fn update(
        &mut self,
        source: &str,
        keys: &QueueKeys,
        clients: &[ClientEntry],
        queue_active: u64,
    ) -> Vec<Event> {
        let mut present = BTreeMap::new();
        for c in clients {
            if let Some(name) = keys.worker_name(&c.name) {
                let label = if name.is_empty() {
                    format!("client {}", c.id)
                } else {
                    name.to_string()
                };
                present.insert(format!("{}:{label}", keys.queue), c.clone());
            }
        }
        let status = if queue_active > 0 {
            Status::Busy
        } else {
            Status::Idle
        };
        let mut events = Vec::new();
        let prefix = format!("{}:", keys.queue);
        for (entity, client) in &present {
            if self.known.get(entity) != Some(&status) {
                let mut e = Event::new(source, EntityKind::Worker, entity.clone(), status.clone());
                e.parent = Some(keys.queue.clone());
                e.message = Some(format!(
                    "connected from {} for {}s",
                    client.addr, client.age_secs
                ));
                e.raw = serde_json::json!({"client": client.name, "addr": client.addr, "id": client.id}).to_string();
                self.known.insert(entity.clone(), status.clone());
                events.push(e);
            }
        }
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|k| k.starts_with(&prefix) && !present.contains_key(*k))
            .cloned()
            .collect();
        for entity in gone {
            self.known.remove(&entity);
            let mut e = Event::new(source, EntityKind::Worker, entity, Status::Gone);
            e.parent = Some(keys.queue.clone());
            e.message = Some("its connection is no longer in CLIENT LIST".into());
            events.push(e);
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_come_and_go() {
        let keys = QueueKeys::new("bull", "q");
        let list = "id=3 addr=127.0.0.1:5000 name=bull:cQ==:w:box age=7 cmd=bzpopmin\n\
                    id=4 addr=127.0.0.1:5001 name=bull:cQ== age=1 cmd=bzpopmin\n\
                    id=5 addr=127.0.0.1:5002 name=bull:cQ==:qe age=1 cmd=xread\n\
                    id=6 addr=127.0.0.1:5003 name= age=1 cmd=client\n";
        let clients = parse_client_list(list);
        assert_eq!(clients.len(), 4);
        let mut t = WorkerTracker::default();
        let ev = t.update("s", &keys, &clients, 0);
        let names: Vec<&str> = ev.iter().map(|e| e.entity.as_str()).collect();
        assert_eq!(names, ["q:box", "q:client 4"]);
        assert!(ev.iter().all(|e| e.status == Status::Idle));
        assert!(
            t.update("s", &keys, &clients, 0).is_empty(),
            "no change, no event"
        );
        let busy = t.update("s", &keys, &clients[..1], 2);
        assert_eq!(busy.len(), 2);
        assert_eq!(busy[0].status, Status::Busy);
        assert_eq!(
            (busy[1].entity.as_str(), &busy[1].status),
            ("q:client 4", &Status::Gone)
        );
    }
}
