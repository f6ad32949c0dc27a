//! Runs a BullMQ source inside the engine.
