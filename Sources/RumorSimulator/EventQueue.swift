import RumorCore

/// A min-heap of scheduled simulation steps ordered by (time, insertion sequence), so steps at the same instant run
/// in the order they were scheduled and every run with the same seed is identical.
struct EventQueue<Element> {
    private struct Entry {
        var at: Instant
        var seq: UInt64
        var element: Element
        func precedes(_ o: Entry) -> Bool { at < o.at || (at == o.at && seq < o.seq) }
    }

    private var heap: [Entry] = []
    private var seq: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: Instant? { heap.first?.at }

    mutating func push(_ element: Element, at: Instant) {
        seq += 1
        heap.append(Entry(at: at, seq: seq, element: element))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].precedes(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (at: Instant, element: Element)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && heap[l].precedes(heap[m]) { m = l }
            if r < heap.count && heap[r].precedes(heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.at, top.element)
    }
}
