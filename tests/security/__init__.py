"""Security proofs: no key or personal data at rest or in logs; transport safety."""
