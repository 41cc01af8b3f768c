"""Users, sessions, restricted tokens, permissions, clinics and clinicians."""
