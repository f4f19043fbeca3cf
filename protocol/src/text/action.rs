//! Text for actions.
