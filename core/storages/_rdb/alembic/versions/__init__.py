"""Schema revisions of the RDB storage, oldest first."""
