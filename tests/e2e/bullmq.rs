//! BullMQ e2e (in progress).
