"""Background jobs of the production server: media sub-actions (see media.py)."""

from production_server.jobs.job import MEDIA_MODULES, is_media_sub_action
from production_server.jobs.media import MediaJobs

__all__ = ["MEDIA_MODULES", "MediaJobs", "is_media_sub_action"]
