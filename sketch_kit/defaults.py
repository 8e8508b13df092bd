"""Every timing default on the editor side, in one place: the client, the session, both
plugins' dialogs and the docs read them from here (the backend's own are in
backend/defaults.py, the options' in protocol.CleanOptions)."""

START_TIMEOUT_S = 180.0  # a backend an editor started loads TensorFlow and the model: 5-60 s
JOB_TIMEOUT_S = 900.0  # one clean job, progress messages or not (the dialogs' "give up after")
JOB_TIMEOUT_RANGE_S = (60.0, 24 * 3600.0)
STALL_TIMEOUT_S = 20.0  # without any message about a job, the client pings the backend
REQUEST_TIMEOUT_S = 3.0  # a small request (info, ping) answered
# An editor's event loop runs between readiness probes: one probe blocks it at most this long.
PROBE_TIMEOUT_S = 0.15
REMOTE_PROBE_TIMEOUT_S = 0.75  # a remote backend needs a CURVE handshake over the network
CONNECT_WAIT_S = 1.5  # how long to look for a running local backend before starting one
REMOTE_CONNECT_WAIT_S = 6.0
# A backend an editor started exits after this long without requests, giving its memory
# back (GIMP's outlives the plug-in and GIMP itself); the next Clean Sketch starts it again.
IDLE_EXIT_S = 600.0
IDLE_EXIT_RANGE_S = (0.0, 24 * 3600.0)  # 0: it runs until the editor (or the artist) stops it
