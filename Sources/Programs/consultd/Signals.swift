import Dispatch
import Foundation
import Locking
import Logging
import Observability

/// The signals consultd answers. SIGTERM and SIGINT ask it to stop (the first of them only: it is
/// said to systemd and logged, and wakes the one waiting in `waitForStop`); SIGHUP calls `reload`.
/// They arrive through Dispatch sources (the default action is ignored first), installed before
/// anything else so that a SIGTERM during start-up stops the daemon too. A closing client must not
/// kill the daemon: SIGPIPE is ignored (and sends use MSG_NOSIGNAL).
final class Signals {
    /// True once a stop was asked for; the workers poll it.
    let stopping = Locked(false)
    private let stopRequested = DispatchSemaphore(value: 0)
    private var sources: [DispatchSourceSignal] = []

    init(systemd: SystemdNotifier, logger: Logger, reload: @escaping @Sendable () -> Void) {
        signal(SIGPIPE, SIG_IGN)
        let stopping = stopping
        let stopRequested = stopRequested
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "consultd.signals"))
            source.setEventHandler {
                let first = stopping.withLock { already in
                    defer { already = true }
                    return !already
                }
                if first {
                    systemd.notify("STOPPING=1")
                    logger.info("stopping", metadata: ["signal": "\(signalNumber)"])
                    stopRequested.signal()
                }
            }
            source.resume()
            sources.append(source)
        }
        // SIGHUP (systemctl reload): the TLS certificate, key and client CA are read again; open
        // connections keep theirs.
        signal(SIGHUP, SIG_IGN)
        let reloadSource = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "consultd.reload"))
        reloadSource.setEventHandler { reload() }
        reloadSource.resume()
        sources.append(reloadSource)
    }

    /// Blocks until SIGTERM or SIGINT.
    func waitForStop() {
        withExtendedLifetime(sources) { stopRequested.wait() }
    }
}
