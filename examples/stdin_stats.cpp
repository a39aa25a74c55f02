// Reads a count and that many numbers from stdin, prints statistics with printf formats.
#include <cstdio>
#include <iostream>
#include <vector>
using namespace std;

int main() {
    int n;
    cin >> n;
    vector<double> xs(n);
    for (int i = 0; i < n; i++) cin >> xs[i];
    double sum = 0, mx = xs.empty() ? 0 : xs[0];
    for (double x : xs) {
        sum += x;
        if (x > mx) mx = x;
    }
    double mean = n > 0 ? sum / n : 0;
    printf("n=%d\n", n);
    printf("mean=%.3f\n", mean);
    printf("max=%8.2f|\n", mx);
    printf("above mean: %s\n", mx > mean ? "true" : "false");
    return 0;
}
