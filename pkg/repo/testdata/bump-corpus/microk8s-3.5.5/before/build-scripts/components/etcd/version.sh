#!/bin/bash

echo "v3.4.3"
