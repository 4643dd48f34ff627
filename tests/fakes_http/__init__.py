"""Local fake vendor HTTP servers on loopback (issue 4): scripted replies in vendor shapes."""
