// Vectors, maps and <algorithm>: sort words and count how often each occurs.
#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>
using namespace std;

map<string, int> countWords(const vector<string>& words) {
    map<string, int> counts;
    for (const string& w : words) {
        counts[w]++;
    }
    return counts;
}

int main() {
    vector<string> words = {"pear", "apple", "fig", "apple", "pear", "apple"};
    sort(words.begin(), words.end());
    for (const string& w : words) cout << w << " ";
    cout << endl;
    map<string, int> counts = countWords(words);
    for (const auto& kv : counts) {
        cout << kv.first << ": " << kv.second << endl;
    }
    int longest = 0;
    for (const string& w : words) longest = max(longest, (int)w.size());
    cout << "longest: " << longest << endl;
    return 0;
}
