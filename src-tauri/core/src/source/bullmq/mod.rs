//! BullMQ queues read natively from Redis (issue 4, item 2).
