public struct RumorCommand { public static func main() async {} }
