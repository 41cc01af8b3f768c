"""HTTP plumbing shared by every domain's routes: errors in Tidepool's formats, bodies, dependencies."""
