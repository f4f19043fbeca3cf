//! `meter`: filled in by the family work (see issue 2).
