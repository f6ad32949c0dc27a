//! The bounded queue between a pub/sub socket reader and its consumer.
//!
//! Redis drops a subscriber whose output buffer passes 32 MB (`client-output-buffer-
//! limit pubsub`), and then everything in flight is lost. So the reader must never wait
//! for the store: it offers each message with `try_send`, and when the queue is full
//! the message is dropped and counted. Once there is room again, the count is turned
//! into a gap notice placed before the next message, so history says exactly how many
//! messages are missing and when.
//!
//! Notices (connected, gap, reconnecting) are never dropped: if the queue is full they
//! wait in a small local list and go out, in order, before the next message.

use std::collections::VecDeque;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::message::PubSubMessage;
use super::update::{Gap, GapCause, LinkState, PubSubUpdate};
use crate::model::{now_millis, Millis};

/// The consumer is gone: nothing will read what this source produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverGone;

pub struct Outbox {
    tx: mpsc::Sender<PubSubUpdate>,
    pending: VecDeque<PubSubUpdate>,
    dropped: u64,
    first_drop: Millis,
    dropped_total: u64,
}

impl Outbox {
    pub fn new(tx: mpsc::Sender<PubSubUpdate>) -> Self {
        Outbox {
            tx,
            pending: VecDeque::new(),
            dropped: 0,
            first_drop: 0,
            dropped_total: 0,
        }
    }

    /// Messages dropped for lack of room since the source started.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// Offers a message without waiting.
    pub fn message(&mut self, msg: PubSubMessage) -> Result<(), ReceiverGone> {
        // Report earlier drops first, but only when there is room for the report and
        // this message too; otherwise every freed slot would become a one-message gap.
        if self.dropped > 0 && self.tx.capacity() >= 2 {
            self.close_overflow_gap();
        }
        self.flush()?;
        if !self.pending.is_empty() || self.dropped > 0 {
            self.drop_one();
            return Ok(());
        }
        match self.tx.try_send(PubSubUpdate::Message(msg)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.drop_one();
                Ok(())
            }
            Err(TrySendError::Closed(_)) => Err(ReceiverGone),
        }
    }

    /// Queues a state notice without waiting (the reader is live).
    pub fn notice(&mut self, state: LinkState) -> Result<(), ReceiverGone> {
        self.pending.push_back(PubSubUpdate::State(state));
        self.flush()
    }

    /// Delivers a notice and everything held back, waiting for room. Only for moments
    /// when no connection is being read (connecting, backing off, stopping).
    pub async fn notice_wait(&mut self, state: LinkState) -> Result<(), ReceiverGone> {
        self.pending.push_back(PubSubUpdate::State(state));
        self.drain_wait().await
    }

    /// Turns outstanding drops into a gap and delivers everything held back, waiting.
    pub async fn drain_wait(&mut self) -> Result<(), ReceiverGone> {
        if self.dropped > 0 {
            self.close_overflow_gap();
        }
        while let Some(u) = self.pending.pop_front() {
            self.tx.send(u).await.map_err(|_| ReceiverGone)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ReceiverGone> {
        while let Some(u) = self.pending.pop_front() {
            match self.tx.try_send(u) {
                Ok(()) => {}
                Err(TrySendError::Full(u)) => {
                    self.pending.push_front(u);
                    return Ok(());
                }
                Err(TrySendError::Closed(_)) => return Err(ReceiverGone),
            }
        }
        Ok(())
    }

    fn drop_one(&mut self) {
        if self.dropped == 0 {
            self.first_drop = now_millis();
        }
        self.dropped += 1;
        self.dropped_total += 1;
    }

    fn close_overflow_gap(&mut self) {
        let gap = Gap {
            from: self.first_drop,
            to: now_millis(),
            cause: GapCause::Overflow {
                dropped: self.dropped,
            },
        };
        tracing::warn!(
            dropped = self.dropped,
            "pub/sub consumer too slow: messages dropped"
        );
        self.dropped = 0;
        self.pending
            .push_back(PubSubUpdate::State(LinkState::Gap(gap)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: u32) -> PubSubMessage {
        PubSubMessage::new("c", None, i.to_string().into_bytes())
    }

    #[tokio::test]
    async fn overflow_is_counted_and_reported_before_the_next_message() {
        let (tx, mut rx) = mpsc::channel(4);
        let mut out = Outbox::new(tx);
        for i in 0..10 {
            out.message(msg(i)).unwrap();
        }
        assert_eq!(out.dropped_total(), 6);
        let mut got = Vec::new();
        while let Ok(u) = rx.try_recv() {
            got.push(u);
        }
        assert_eq!(got.len(), 4);
        out.message(msg(10)).unwrap();
        let gap = rx.try_recv().unwrap();
        match gap {
            PubSubUpdate::State(LinkState::Gap(Gap {
                cause: GapCause::Overflow { dropped: 6 },
                ..
            })) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(rx.try_recv().unwrap(), PubSubUpdate::Message(msg(10)));
    }

    #[tokio::test]
    async fn notices_are_never_dropped_and_keep_their_order() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut out = Outbox::new(tx);
        out.message(msg(0)).unwrap();
        out.notice(LinkState::Connecting).unwrap();
        out.message(msg(1)).unwrap(); // dropped: the notice is still waiting
        assert_eq!(rx.recv().await.unwrap(), PubSubUpdate::Message(msg(0)));
        let drain = tokio::spawn(async move {
            let mut v = Vec::new();
            while let Some(u) = rx.recv().await {
                v.push(u);
            }
            v
        });
        out.drain_wait().await.unwrap();
        drop(out);
        let rest = drain.await.unwrap();
        assert_eq!(rest[0], PubSubUpdate::State(LinkState::Connecting));
        assert!(matches!(
            rest[1],
            PubSubUpdate::State(LinkState::Gap(Gap {
                cause: GapCause::Overflow { dropped: 1 },
                ..
            }))
        ));
    }

    #[tokio::test]
    async fn a_closed_receiver_is_reported() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut out = Outbox::new(tx);
        assert_eq!(out.message(msg(0)), Err(ReceiverGone));
    }
}
