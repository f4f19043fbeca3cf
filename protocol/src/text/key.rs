//! Text for flow keys and masks.
