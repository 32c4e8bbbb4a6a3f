"""Scale-out proofs: Postgres-backed instance, pools, shared rate limiter, object storage."""
