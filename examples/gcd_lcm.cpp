// Greatest common divisor and least common multiple of two numbers.
#include <iostream>
using namespace std;

int gcd(int a, int b) {
    while (b != 0) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

long long lcm(int a, int b) {
    return (long long)a / gcd(a, b) * b;
}

int main() {
    int a = 84, b = 36;
    cout << "gcd(" << a << ", " << b << ") = " << gcd(a, b) << endl;
    cout << "lcm(" << a << ", " << b << ") = " << lcm(a, b) << endl;
    return 0;
}
