"""Load and soak benchmark of ``proofing serve`` with whole applicant sessions over HTTP."""
