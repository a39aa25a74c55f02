// A small class with state, validation and a method that reports.
#include <iostream>
#include <string>
using namespace std;

class BankAccount {
public:
    BankAccount(const string& owner, double balance) : owner_(owner), balance_(balance) {}

    bool withdraw(double amount) {
        if (amount <= 0 || amount > balance_) {
            return false;
        }
        balance_ -= amount;
        return true;
    }

    void deposit(double amount) {
        if (amount > 0) balance_ += amount;
    }

    double balance() const { return balance_; }
    const string& owner() const { return owner_; }

private:
    string owner_;
    double balance_;
};

int main() {
    BankAccount acct("Ada", 100.0);
    acct.deposit(50.0);
    bool ok = acct.withdraw(30.0);
    bool too_much = acct.withdraw(500.0);
    cout << acct.owner() << " " << acct.balance() << " " << ok << " " << too_much << endl;
    return 0;
}
