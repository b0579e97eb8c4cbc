// The tlog-witness protocol (see AddCheckpoint.swift).
