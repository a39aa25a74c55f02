// Modern C++17/20 idioms: std::optional, structured bindings, lambdas with sort/accumulate/count_if.
#include <algorithm>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>
using namespace std;

struct Student {
    string name;
    int score;
};

optional<Student> best(const vector<Student>& students) {
    if (students.empty()) return nullopt;
    return *max_element(students.begin(), students.end(),
                        [](const Student& a, const Student& b) { return a.score < b.score; });
}

int main() {
    vector<Student> students = {{"ada", 91}, {"bob", 78}, {"cy", 85}, {"dee", 62}};
    sort(students.begin(), students.end(), [](const auto& a, const auto& b) { return a.name > b.name; });
    for (const auto& [name, score] : students) {
        cout << name << "=" << score << " ";
    }
    cout << "\n";
    int total = accumulate(students.begin(), students.end(), 0,
                           [](int acc, const Student& s) { return acc + s.score; });
    auto passed = count_if(students.begin(), students.end(), [](const Student& s) { return s.score >= 80; });
    cout << "total " << total << ", passed " << passed << endl;
    if (auto top = best(students)) {
        cout << "best " << top->name << endl;
    }
    cout << boolalpha << best({}).has_value() << endl;
    return 0;
}
