"""Authentication: passwords, JWTs, refresh rotation, access keys, invitations (AUTH-1…7)."""
