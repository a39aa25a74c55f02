// The oracle driver's printer: any result as one line of canonical JSON (maps and sets tagged, as the
// Python driver writes them). It sits before the program's code, so that code's macros cannot change it.
#include <bits/stdc++.h>
using namespace std;
namespace cpp2py_oracle {
template <class T, class = void> struct is_map : std::false_type {};
template <class T> struct is_map<T, std::void_t<typename T::key_type, typename T::mapped_type>> : std::true_type {};
template <class T, class = void> struct is_set : std::false_type {};
template <class T> struct is_set<T, std::void_t<typename T::key_type>> : std::true_type {};
template <class T, class = void> struct is_range : std::false_type {};
template <class T> struct is_range<T, std::void_t<decltype(std::begin(std::declval<T &>()))>> : std::true_type {};
template <class T> struct is_pair : std::false_type {};
template <class A, class B> struct is_pair<std::pair<A, B>> : std::true_type {};
template <class T> struct is_tuple : std::false_type {};
template <class... A> struct is_tuple<std::tuple<A...>> : std::true_type {};
template <class> inline constexpr bool unsupported = false;
// LeetCode's TreeNode and ListNode, known by their members: the program's own definitions come after this.
template <class T, class = void> struct is_tree : std::false_type {};
template <class T> struct is_tree<T, std::void_t<decltype(std::declval<T &>().val), decltype(std::declval<T &>().left),
                                                 decltype(std::declval<T &>().right)>> : std::true_type {};
template <class T, class = void> struct is_linked : std::false_type {};
template <class T>
struct is_linked<T, std::void_t<decltype(std::declval<T &>().val), decltype(std::declval<T &>().next)>>
    : std::true_type {};
template <class T> inline constexpr bool is_node_ptr =
    std::is_pointer_v<T> && (is_tree<std::remove_pointer_t<T>>::value || is_linked<std::remove_pointer_t<T>>::value);
// Nodes printed per structure at most, so that a cycle cannot hang the printer (pydriver.py's NODE_CAP).
inline constexpr int node_cap = 1000;

inline void put_str(std::ostream &o, const std::string &s) {
    o << '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') o << '\\' << c;
        else if (c < 32 || c >= 127) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o << b; }
        else o << c;
    }
    o << '"';
}

template <class T> void put(std::ostream &o, const T &v);

// A list as its values in order, a tree as LeetCode's level order with null for a missing child and trailing
// nulls trimmed; nullptr as the empty one. A node past node_cap prints as "..." and ends the structure.
template <class N> void put_nodes(std::ostream &o, N *head) {
    using M = std::remove_const_t<N>;
    constexpr bool tree = is_tree<M>::value;
    o << (tree ? "{\"__tree__\": [" : "{\"__linked__\": [");
    std::vector<N *> queue{head};
    std::size_t shown = 0, nulls = 0;  // nulls not printed yet: trailing ones never are
    for (std::size_t i = 0; i < queue.size() && head; i++) {
        if (!queue[i]) { nulls++; continue; }
        for (; nulls; nulls--) o << (shown++ ? ", " : "") << "null";
        o << (shown++ ? ", " : "");
        if (i >= static_cast<std::size_t>(node_cap)) { o << "\"...\""; break; }
        put(o, queue[i]->val);
        if constexpr (tree) { queue.push_back(queue[i]->left); queue.push_back(queue[i]->right); }
        else if (queue[i]->next) queue.push_back(queue[i]->next);
    }
    o << "]}";
}

template <class T> void put(std::ostream &o, const T &v) {
    using U = std::decay_t<T>;
    if constexpr (std::is_same_v<U, bool>) o << (v ? "true" : "false");
    else if constexpr (std::is_same_v<U, char> || std::is_same_v<U, signed char> || std::is_same_v<U, unsigned char>)
        put_str(o, std::string(1, static_cast<char>(v)));
    else if constexpr (std::is_integral_v<U>) o << +v;
    else if constexpr (std::is_floating_point_v<U>) {
        if (std::isnan(v)) o << "{\"__float__\": \"nan\"}";
        else if (std::isinf(v)) o << (v > 0 ? "{\"__float__\": \"inf\"}" : "{\"__float__\": \"-inf\"}");
        else { char b[64]; std::snprintf(b, sizeof b, "%.17g", static_cast<double>(v)); o << b; }
    }
    else if constexpr (std::is_same_v<U, std::string>) put_str(o, v);
    else if constexpr (is_node_ptr<U>) put_nodes(o, v);
    else if constexpr (std::is_same_v<U, const char *> || std::is_same_v<U, char *>) put_str(o, v ? v : "");
    else if constexpr (is_pair<U>::value) { o << '['; put(o, v.first); o << ", "; put(o, v.second); o << ']'; }
    else if constexpr (is_tuple<U>::value) {
        o << '[';
        std::apply([&](const auto &...x) { int i = 0; ((o << (i++ ? ", " : ""), put(o, x)), ...); }, v);
        o << ']';
    }
    else if constexpr (is_map<U>::value) {
        o << "{\"__map__\": [";
        bool first = true;
        for (const auto &kv : v) { o << (first ? "" : ", ") << '['; put(o, kv.first); o << ", "; put(o, kv.second); o << ']'; first = false; }
        o << "]}";
    }
    else if constexpr (is_set<U>::value) {
        o << "{\"__set__\": [";
        bool first = true;
        for (const auto &x : v) { o << (first ? "" : ", "); put(o, x); first = false; }
        o << "]}";
    }
    else if constexpr (is_range<U>::value) {
        o << '[';
        bool first = true;
        for (const auto &x : v) { o << (first ? "" : ", "); put(o, x); first = false; }
        o << ']';
    }
    else static_assert(unsupported<U>, "cpp2py oracle: cannot print this result type");
}

// A list's values, or a tree's in level order with "null" for a missing child, as LeetCode builds its inputs.
template <class N> N *get_nodes(std::istream &in) {
    std::size_t n = 0; in >> n;
    std::vector<N *> made;
    for (std::size_t i = 0; i < n; i++) {
        std::string tok; in >> tok;
        made.push_back(tok == "null" ? nullptr : new N(static_cast<decltype(N::val)>(std::stoll(tok))));
    }
    if constexpr (is_tree<N>::value) {
        std::size_t child = 1;  // each node present takes the next two entries as its children
        for (std::size_t i = 0; i < made.size(); i++) {
            if (!made[i]) continue;
            made[i]->left = child < made.size() ? made[child] : nullptr; child++;
            made[i]->right = child < made.size() ? made[child] : nullptr; child++;
        }
    } else {
        for (std::size_t i = 0; i < made.size(); i++) made[i]->next = i + 1 < made.size() ? made[i + 1] : nullptr;
    }
    return made.empty() ? nullptr : made[0];
}

// Reads a value in the token stream values.serialize writes, so one compiled driver serves any cases.
template <class T> void get(std::istream &in, T &v) {
    using U = T;
    if constexpr (std::is_same_v<U, bool>) { int x = 0; in >> x; v = x != 0; }
    else if constexpr (std::is_same_v<U, char> || std::is_same_v<U, signed char> || std::is_same_v<U, unsigned char>) {
        int x = 0; in >> x; v = static_cast<U>(x);
    }
    else if constexpr (std::is_arithmetic_v<U>) in >> v;
    else if constexpr (is_node_ptr<U>) v = get_nodes<std::remove_const_t<std::remove_pointer_t<U>>>(in);
    else if constexpr (std::is_same_v<U, std::string>) {
        std::size_t n = 0; in >> n; in.get(); v.assign(n, '\0'); in.read(v.data(), static_cast<std::streamsize>(n));
    }
    else if constexpr (is_pair<U>::value) { get(in, v.first); get(in, v.second); }
    else if constexpr (is_tuple<U>::value) std::apply([&](auto &...x) { (get(in, x), ...); }, v);
    else if constexpr (is_map<U>::value) {
        std::size_t n = 0; in >> n; v.clear();
        for (std::size_t i = 0; i < n; i++) {
            typename U::key_type k{}; typename U::mapped_type m{}; get(in, k); get(in, m); v.emplace(std::move(k), std::move(m));
        }
    }
    else if constexpr (is_set<U>::value) {
        std::size_t n = 0; in >> n; v.clear();
        for (std::size_t i = 0; i < n; i++) { typename U::key_type k{}; get(in, k); v.insert(std::move(k)); }
    }
    else if constexpr (is_range<U>::value) {
        std::size_t n = 0; in >> n; v.clear();
        for (std::size_t i = 0; i < n; i++) { typename U::value_type x{}; get(in, x); v.push_back(std::move(x)); }
    }
    else static_assert(unsupported<U>, "cpp2py oracle: cannot read this parameter type");
}

// A C array parameter: exactly n elements on the heap, so the sanitizer catches a read past the end.
template <class T> struct Array {
    std::unique_ptr<T[]> p;
    long n = 0;
    T *data() { return p.get(); }
};
template <class T> void get(std::istream &in, Array<T> &a) {
    in >> a.n;
    a.p.reset(new T[a.n]);
    for (long i = 0; i < a.n; i++) get(in, a.p[i]);
}

template <class T> void put_array(std::ostream &o, const T *p, long n) {
    o << '[';
    for (long i = 0; i < n; i++) { o << (i ? ", " : ""); put(o, p[i]); }
    o << ']';
}

inline int current = -1;
// CPU time, not wall time: which cases count as slow must not depend on how busy the machine is.
inline std::clock_t started;
inline void on_alarm(int) {
    char b[64];
    int n = std::snprintf(b, sizeof b, "\n\x02TIMEOUT %d\n", current);
    if (write(1, b, n) < 0) {}
    _exit(87);
}
inline void begin(int i) {
    current = i;
    std::signal(SIGALRM, on_alarm);
    alarm(2);
    started = std::clock();
}
inline void end(int i) {
    long us = static_cast<long>((std::clock() - started) * 1000000.0 / CLOCKS_PER_SEC);
    alarm(0);
    std::cout << std::flush;
    std::fflush(stdout);
    std::cout << "\n\x02" "END " << i << ' ' << us << ' ' << std::flush;
}
// Calls one case; void results print as null (the lambda keeps the discarded branch uninstantiated).
template <class F> void run(int i, F f) {
    using R = decltype(f());
    begin(i);
    if constexpr (std::is_void_v<R>) { f(); end(i); std::cout << "[null, ["; }
    else { auto r = f(); end(i); std::cout << '['; put(std::cout, r); std::cout << ", ["; }
}
}  // namespace cpp2py_oracle
