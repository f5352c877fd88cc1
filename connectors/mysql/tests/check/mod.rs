//! `check_source` and `check_target` against real MariaDB servers.
