/// Services started in a stated order and stopped in the reverse order: what starts first is what
/// the later ones rely on, and what stops first is what the outside world talks to.
public final class Lifecycle {
    /// One service: how to start it and how to stop it.
    public struct Step {
        public let name: String
        let start: () throws -> Void
        let stop: () -> Void
    }

    private var steps: [Step] = []
    private var started: [Step] = []

    public init() {}

    /// Adds a step after those added before it.
    public func add(_ name: String, start: @escaping () throws -> Void, stop: @escaping () -> Void = {}) {
        steps.append(Step(name: name, start: start, stop: stop))
    }

    /// The steps' names in start order.
    public var names: [String] { steps.map(\.name) }

    /// Starts every step not yet started, in order. A step that throws ends the start there: the
    /// steps before it stay started, for the caller to stop (or to end the process).
    public func start() throws(LifecycleError) {
        for step in steps.dropFirst(started.count) {
            do {
                try step.start()
            } catch {
                throw LifecycleError(step: step.name, underlying: error)
            }
            started.append(step)
        }
    }

    /// Stops the started steps, the last started first; each once.
    public func stop() {
        while let step = started.popLast() {
            step.stop()
        }
    }
}

/// A step that could not start; its description is the step's own error's, which says what failed.
public struct LifecycleError: Error, CustomStringConvertible {
    public let step: String
    public let underlying: any Error

    public var description: String { "\(underlying)" }
}
