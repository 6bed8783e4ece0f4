"""The ePassport chip (ICAO 9303 Parts 10-12): transport, access control, secure messaging,
LDS parsing, passive / active / chip authentication, and a virtual chip for tests."""
