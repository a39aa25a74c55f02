// A class with STL members: a std::map of stock levels and a std::vector of the order history.
#include <iostream>
#include <map>
#include <string>
#include <vector>
using namespace std;

class Inventory {
public:
    void add(const string& item, int qty) {
        stock_[item] += qty;
        history_.push_back("add " + item);
    }

    bool remove(const string& item, int qty) {
        auto it = stock_.find(item);
        if (it == stock_.end() || it->second < qty) {
            return false;
        }
        it->second -= qty;
        if (it->second == 0) {
            stock_.erase(it);
        }
        history_.push_back("remove " + item);
        return true;
    }

    int total() const {
        int sum = 0;
        for (const auto& kv : stock_) sum += kv.second;
        return sum;
    }

    void report() const {
        for (const auto& kv : stock_) {
            cout << kv.first << ": " << kv.second << "\n";
        }
        cout << "total " << total() << ", " << history_.size() << " operations" << endl;
    }

private:
    map<string, int> stock_;
    vector<string> history_;
};

int main() {
    Inventory inv;
    inv.add("pear", 5);
    inv.add("apple", 3);
    inv.add("pear", 2);
    cout << boolalpha << inv.remove("apple", 3) << " " << inv.remove("fig", 1) << endl;
    inv.report();
    return 0;
}
