// Function and class templates: a generic max of a vector and a fixed-capacity stack.
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>
using namespace std;

template <typename T>
T largest(const vector<T>& xs) {
    T best = xs.at(0);
    for (const T& x : xs) {
        if (best < x) best = x;
    }
    return best;
}

template <typename T, int N>
class Stack {
public:
    void push(const T& x) {
        if (size_ == N) throw overflow_error("stack full");
        items_[size_++] = x;
    }
    T pop() {
        if (size_ == 0) throw underflow_error("stack empty");
        return items_[--size_];
    }
    int size() const { return size_; }

private:
    T items_[N];
    int size_ = 0;
};

int main() {
    cout << largest(vector<int>{3, 9, 2}) << " " << largest(vector<string>{"kiwi", "apple", "pear"}) << endl;
    Stack<int, 2> s;
    s.push(1);
    s.push(2);
    try {
        s.push(3);
    } catch (const overflow_error& e) {
        cout << "error: " << e.what() << endl;
    }
    cout << s.pop() << " " << s.pop() << " " << s.size() << endl;
    return 0;
}
