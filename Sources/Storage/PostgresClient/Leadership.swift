import Foundation

/// One process at a time does a job (projecting, keeping the Merkle tree): the one whose session
/// holds a session-level advisory lock. The session never reconnects silently, so when it is lost
/// the lock is gone and the holder's next call throws: leadership ends with the session.
public enum Leadership {
    /// Waits until a new session holds `key` and returns it, or nil once `shouldStop` says so.
    /// `standby` is called once, the first time another process holds the lock.
    public static func acquire(
        _ conninfo: String, key: Int64, timeout: Double, retry: Double = 1, shouldStop: () -> Bool, standby: () -> Void
    ) throws -> Connection? {
        let session = try Connection(conninfo, options: .bounded(timeout, reconnects: false))
        var announced = false
        while !shouldStop() {
            if try session.execute("SELECT pg_try_advisory_lock($1) AS ok", [key]).first!.get("ok", as: Bool.self) {
                return session
            }
            if !announced {
                standby()
                announced = true
            }
            Thread.sleep(forTimeInterval: retry)  // the interval for taking over from a holder that died; not a synchronisation
        }
        return nil
    }
}
